import type { WebhookRequest } from './request';
import type { VerifyWebhookResult, WebhookScheme } from './types';

/**
 * One signature scheme. `parseOptions` turns what the caller passed as `secret` into checked
 * options and throws SyncBridgeError('configuration') naming the bad option; `verify` never throws
 * for anything the sender controls: every problem with the request is a `{ valid: false, reason }`.
 */
export interface WebhookVerifier<O = unknown> {
  readonly scheme: WebhookScheme;
  parseOptions(secret: unknown): O;
  verify(request: WebhookRequest, options: O): VerifyWebhookResult | Promise<VerifyWebhookResult>;
}

/** Keeps each scheme's option type attached to its verify function. */
export function defineVerifier<O>(verifier: WebhookVerifier<O>): WebhookVerifier<O> {
  return verifier;
}
