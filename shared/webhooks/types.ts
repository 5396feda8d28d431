import type { WebhookHeadersInit } from './support/headers';
import type { WebhookOptionsByScheme } from './options';

/** Every signature scheme `verifyWebhook` knows; see docs/webhooks.md for each one's rules. */
export type WebhookScheme =
  | 'github'
  | 'slack'
  | 'stripe'
  | 'shopify'
  | 'standard-webhooks'
  | 'svix'
  | 'notion'
  | 'zoom'
  | 'twilio'
  | 'salesforce'
  | 'google-pubsub'
  | 'msgraph'
  | 'hmac'
  | 'jwt'
  | 'bearer'
  | 'basic';

export interface VerifyWebhookInput<S extends WebhookScheme = WebhookScheme> {
  /**
   * The active secret, several active secrets (rotation: any one verifies), or the scheme's options
   * object (docs/webhooks.md lists each scheme's options). Read it from the secret store per request,
   * so that rotating a secret in or out needs no restart.
   */
  secret: string | string[] | WebhookOptionsByScheme[S];
  /** HTTP method as received, e.g. "POST". */
  method: string;
  /**
   * The URL the provider called. Twilio signs it, so pass the public absolute URL (scheme, host,
   * path and query) exactly as the provider was configured with it; Microsoft Graph reads its
   * `validationToken` query parameter from it.
   */
  url: string;
  /** Request headers; names are matched case-insensitively. Arrays mean a repeated header. */
  headers: WebhookHeadersInit;
  /** The body exactly as received; signatures cover bytes, never re-serialised JSON. */
  rawBody: string | Buffer;
  /** Current time in unix seconds; defaults to the clock. */
  now?: number;
}

/** What the receiver answers instead of enqueuing, for a provider's endpoint-verification request. */
export interface WebhookHandshake {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The outcome of verification. Contract for the receiver:
 * 1. `handshake` set → answer with it and enqueue nothing (whatever `valid` says);
 * 2. otherwise `valid` false → reject (4xx) and enqueue nothing; `reason` names what failed;
 * 3. otherwise → the request is authentic; enqueue it.
 */
export interface VerifyWebhookResult {
  valid: boolean;
  reason?: string;
  handshake?: WebhookHandshake;
}
