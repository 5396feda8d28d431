import { defineVerifier } from '../verifier';
import { indexOfMatch } from '../support/constantTime';
import { decodeHex } from '../support/encoding';
import { hmacPerSecret } from '../support/hmac';
import { accepted, rejected } from '../support/results';
import { collectSecrets } from '../support/secrets';

const SIGNATURE_HEADER = 'X-Hub-Signature-256';
const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` keyed by the webhook
 * secret. The legacy `X-Hub-Signature` (HMAC-SHA1) is never enough on its own: GitHub keeps sending
 * it only for compatibility, and accepting it would downgrade us to SHA-1.
 */
export const githubVerifier = defineVerifier({
  scheme: 'github',
  parseOptions: (secret: unknown) => ({ secrets: collectSecrets('github', secret) }),
  verify(request, options) {
    const header = request.headers.single(SIGNATURE_HEADER);
    if (!header.ok) {
      if (!request.headers.has(SIGNATURE_HEADER) && request.headers.has('X-Hub-Signature')) {
        return rejected(`The ${SIGNATURE_HEADER} header is missing; the legacy SHA-1 X-Hub-Signature header is not accepted.`);
      }
      return rejected(header.reason);
    }
    const match = SIGNATURE.exec(header.value);
    if (!match) return rejected(`The ${SIGNATURE_HEADER} header is malformed: expected sha256= and 64 hex digits.`);
    const provided = decodeHex(match[1], 32)!;
    const expected = hmacPerSecret('sha256', options.secrets, request.body);
    return indexOfMatch(expected, [provided]) >= 0
      ? accepted()
      : rejected(`The ${SIGNATURE_HEADER} signature does not match the body for any active secret.`);
  },
});
