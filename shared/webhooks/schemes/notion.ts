import { defineVerifier } from '../verifier';
import { indexOfMatch } from '../support/constantTime';
import { decodeHex, isPlainObject, parseJson } from '../support/encoding';
import { hmacPerSecret } from '../support/hmac';
import { accepted, emptyHandshake, handshakeResult, rejected } from '../support/results';
import { collectSecrets } from '../support/secrets';

const SIGNATURE_HEADER = 'X-Notion-Signature';
const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * The verification_token of Notion's subscription handshake, when `rawBody` is that handshake
 * (a JSON object whose only member is `verification_token`); undefined otherwise. The receiver
 * records it for the operator, who pastes it back into Notion and stores it as this connection's
 * secret.
 */
export function readNotionVerificationToken(rawBody: string | Buffer): string | undefined {
  const text = Buffer.isBuffer(rawBody) ? rawBody.toString('utf8') : rawBody;
  if (!text.trimStart().startsWith('{')) return undefined;
  const parsed = parseJson(text);
  if (!isPlainObject(parsed)) return undefined;
  const keys = Object.keys(parsed);
  const token = parsed.verification_token;
  return keys.length === 1 && typeof token === 'string' && VERIFICATION_TOKEN.test(token) ? token : undefined;
}

/**
 * What a Notion verification token can look like (Notion's are `secret_` and ~43 characters):
 * printable ASCII, at most 256 characters. Anything else is no handshake, and (unsigned) a 401.
 */
const VERIFICATION_TOKEN = /^[\x21-\x7e]{1,256}$/;

/**
 * Notion: `X-Notion-Signature: sha256=<hex HMAC-SHA256 of the raw body>` keyed by the
 * subscription's verification_token. Before that token exists, Notion POSTs it once, unsigned, as
 * `{"verification_token": "…"}`: that request is answered 200 as a handshake and never enqueued.
 */
export const notionVerifier = defineVerifier({
  scheme: 'notion',
  // A subscription waiting for its first handshake has no token yet, so an empty list is allowed.
  parseOptions: (secret: unknown) => ({ secrets: collectSecrets('notion', secret, { allowEmpty: true }) }),
  verify(request, options) {
    if (!request.headers.has(SIGNATURE_HEADER) && readNotionVerificationToken(request.body) !== undefined) {
      return handshakeResult(
        false,
        emptyHandshake(),
        "This is Notion's unsigned verification-token handshake; record the token for the operator and enqueue nothing.",
      );
    }
    const header = request.headers.single(SIGNATURE_HEADER);
    if (!header.ok) return rejected(header.reason);
    const match = SIGNATURE.exec(header.value);
    if (!match) return rejected(`The ${SIGNATURE_HEADER} header is malformed: expected sha256= and 64 hex digits.`);
    if (options.secrets.length === 0) {
      return rejected(`The ${SIGNATURE_HEADER} header cannot be checked: no verification token is configured yet.`);
    }
    const expected = hmacPerSecret('sha256', options.secrets, request.body);
    return indexOfMatch(expected, [decodeHex(match[1], 32)!]) >= 0
      ? accepted()
      : rejected(`The ${SIGNATURE_HEADER} signature does not match the body for any active verification token.`);
  },
});
