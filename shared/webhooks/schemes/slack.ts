import { defineVerifier } from '../verifier';
import { isPlainObject, parseJson } from '../support/encoding';
import { accepted, handshakeResult, jsonHandshake, rejected } from '../support/results';
import { collectSecrets, optionalPositiveNumber, optionsObject } from '../support/secrets';
import { DEFAULT_TOLERANCE_SECONDS } from '../support/timestamps';
import { checkV0Signature } from './v0Signature';

/**
 * Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{X-Slack-Request-Timestamp}:{body}">`
 * keyed by the signing secret, timestamp within 5 minutes. The Events API's `url_verification`
 * request is signed like any other; once verified it is answered with its challenge.
 */
export const slackVerifier = defineVerifier({
  scheme: 'slack',
  parseOptions: (secret: unknown) => ({
    secrets: collectSecrets('slack', secret),
    toleranceSeconds: optionalPositiveNumber('slack', optionsObject(secret), 'toleranceSeconds', DEFAULT_TOLERANCE_SECONDS),
  }),
  verify(request, options) {
    const check = checkV0Signature(request, options.secrets, {
      signatureHeader: 'X-Slack-Signature',
      timestampHeader: 'X-Slack-Request-Timestamp',
      toleranceSeconds: options.toleranceSeconds,
    });
    if (!check.ok) return rejected(check.reason);
    const challenge = urlVerificationChallenge(request.body);
    return challenge === undefined ? accepted() : handshakeResult(true, jsonHandshake({ challenge }));
  },
});

function urlVerificationChallenge(body: Buffer): string | undefined {
  if (body[0] !== 0x7b /* { */) return undefined;
  const parsed = parseJson(body.toString('utf8'));
  if (!isPlainObject(parsed) || parsed.type !== 'url_verification') return undefined;
  return typeof parsed.challenge === 'string' ? parsed.challenge : undefined;
}
