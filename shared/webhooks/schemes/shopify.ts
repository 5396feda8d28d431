import { defineVerifier } from '../verifier';
import { indexOfMatch } from '../support/constantTime';
import { decodeBase64 } from '../support/encoding';
import { hmacPerSecret } from '../support/hmac';
import { accepted, rejected } from '../support/results';
import { collectSecrets } from '../support/secrets';

const SIGNATURE_HEADER = 'X-Shopify-Hmac-Sha256';

/** Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the raw body>` keyed by the app's client secret. */
export const shopifyVerifier = defineVerifier({
  scheme: 'shopify',
  parseOptions: (secret: unknown) => ({ secrets: collectSecrets('shopify', secret) }),
  verify(request, options) {
    const header = request.headers.single(SIGNATURE_HEADER);
    if (!header.ok) return rejected(header.reason);
    const provided = decodeBase64(header.value, 32);
    if (!provided) return rejected(`The ${SIGNATURE_HEADER} header is malformed: expected the base64 of 32 bytes.`);
    const expected = hmacPerSecret('sha256', options.secrets, request.body);
    return indexOfMatch(expected, [provided]) >= 0
      ? accepted()
      : rejected(`The ${SIGNATURE_HEADER} signature does not match the body for any active secret.`);
  },
});
