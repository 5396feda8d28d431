import { defineVerifier } from '../verifier';
import { isPlainObject, parseJson } from '../support/encoding';
import { hmac } from '../support/hmac';
import { accepted, handshakeResult, jsonHandshake, rejected } from '../support/results';
import { collectSecrets, optionalPositiveNumber, optionsObject } from '../support/secrets';
import { DEFAULT_TOLERANCE_SECONDS } from '../support/timestamps';
import { checkV0Signature } from './v0Signature';

/**
 * Zoom: `x-zm-signature: v0=<hex HMAC-SHA256 of "v0:{x-zm-request-timestamp}:{body}">` keyed by the
 * app's Secret Token. The `endpoint.url_validation` request is signed too (Zoom's own sample checks
 * the signature before answering it); it is answered with the plainToken and
 * encryptedToken = hex HMAC-SHA256(plainToken) under the secret that verified the request.
 */
export const zoomVerifier = defineVerifier({
  scheme: 'zoom',
  parseOptions: (secret: unknown) => ({
    secrets: collectSecrets('zoom', secret),
    toleranceSeconds: optionalPositiveNumber('zoom', optionsObject(secret), 'toleranceSeconds', DEFAULT_TOLERANCE_SECONDS),
  }),
  verify(request, options) {
    const check = checkV0Signature(request, options.secrets, {
      signatureHeader: 'x-zm-signature',
      timestampHeader: 'x-zm-request-timestamp',
      toleranceSeconds: options.toleranceSeconds,
    });
    if (!check.ok) return rejected(check.reason);
    const plainToken = urlValidationPlainToken(request.body);
    if (plainToken === undefined) return accepted();
    const encryptedToken = hmac('sha256', options.secrets[check.secretIndex], plainToken).toString('hex');
    return handshakeResult(true, jsonHandshake({ plainToken, encryptedToken }));
  },
});

function urlValidationPlainToken(body: Buffer): string | undefined {
  if (body[0] !== 0x7b /* { */) return undefined;
  const parsed = parseJson(body.toString('utf8'));
  if (!isPlainObject(parsed) || parsed.event !== 'endpoint.url_validation' || !isPlainObject(parsed.payload)) return undefined;
  const token = parsed.payload.plainToken;
  return typeof token === 'string' && token.length > 0 ? token : undefined;
}
