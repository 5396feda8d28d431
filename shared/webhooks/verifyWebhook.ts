import { SyncBridgeError } from '../core/errors';
import { webhookVerifierFor } from './registry';
import { toWebhookRequest } from './request';
import type { WebhookOptionsByScheme } from './options';
import type { VerifyWebhookInput, VerifyWebhookResult, WebhookScheme } from './types';

/** Year 5138 in seconds; anything larger is a millisecond timestamp passed as seconds. */
const MAX_UNIX_SECONDS = 1e11;

/**
 * Verifies one incoming webhook against `scheme`, on the raw bytes, in constant time.
 *
 * Everything the sender controls (missing, malformed or repeated headers, wrong signatures, stale
 * or future timestamps, bad tokens) resolves to `{ valid: false, reason }`. Only a configuration
 * mistake of ours (an unknown scheme, options that do not fit it) rejects, with a
 * SyncBridgeError('configuration') that names the option; check options up front with
 * `checkWebhookOptions` when a connection is saved.
 */
export async function verifyWebhook<S extends WebhookScheme>(scheme: S, input: VerifyWebhookInput<S>): Promise<VerifyWebhookResult> {
  return prepareWebhookVerification(scheme, input.secret).verify(input);
}

/** A scheme with its options checked and parsed once (prepareWebhookVerification). */
export interface PreparedWebhookVerification {
  readonly scheme: WebhookScheme;
  /** verifyWebhook with the prepared options: same results, same errors. */
  verify(input: Omit<VerifyWebhookInput, 'secret'>): Promise<VerifyWebhookResult>;
}

/**
 * Checks and parses `secret` for `scheme` once (throwing as verifyWebhook does for options that do
 * not fit), for a caller that verifies many deliveries with the same settings: decoding secrets
 * and keys is then not repeated per delivery. The options are read now; a later change to the
 * `secret` object is not seen, so prepare again when the settings change (the webhook receiver
 * keeps one per settings document it reads).
 */
export function prepareWebhookVerification<S extends WebhookScheme>(scheme: S, secret: VerifyWebhookInput<S>['secret']): PreparedWebhookVerification {
  const verifier = webhookVerifierFor(scheme);
  const options = verifier.parseOptions(secret);
  return {
    scheme,
    async verify(input) {
      // Date.now() passed by mistake would silently reject every timestamped webhook as "in the future".
      if (input.now !== undefined && !(Number.isFinite(input.now) && input.now >= 0 && input.now < MAX_UNIX_SECONDS)) {
        throw new SyncBridgeError('configuration', `The webhook input "now" must be unix seconds; got ${String(input.now)}.`);
      }
      return verifier.verify(toWebhookRequest(input), options);
    },
  };
}

/**
 * Throws SyncBridgeError('configuration') naming the bad option if `secret` does not fit `scheme`.
 * Meant for the moment a connection's webhook settings are saved, so that mistakes surface there
 * rather than as rejected deliveries.
 */
export function checkWebhookOptions<S extends WebhookScheme>(scheme: S, secret: string | string[] | WebhookOptionsByScheme[S]): void {
  webhookVerifierFor(scheme).parseOptions(secret);
}
