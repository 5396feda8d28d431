import { WebhookHeaders } from './support/headers';
import type { VerifyWebhookInput } from './types';

/** The request as every scheme sees it: headers made case-insensitive, body as bytes, time fixed. */
export interface WebhookRequest {
  method: string;
  /** The URL string exactly as passed in (Twilio signs the string, not a normalised form). */
  url: string;
  /** The URL parsed, resolved against a placeholder origin when a path was passed; undefined if unparseable. */
  readonly parsedUrl: URL | undefined;
  headers: WebhookHeaders;
  body: Buffer;
  /** Unix seconds. */
  now: number;
}

const PLACEHOLDER_ORIGIN = 'http://webhook.invalid';

export function toWebhookRequest(input: Omit<VerifyWebhookInput, 'secret'>): WebhookRequest {
  return new VerifiedRequest(input);
}

/**
 * A class, not an object literal with a `parsedUrl` getter: a literal's getter is a new function
 * per request, so each literal got a hidden class of its own, allocated in the old generation,
 * which kept the request (its body among it) reachable through every young-generation collection
 * (docs/webhook-intake.md "Objects that outlived their request").
 */
class VerifiedRequest implements WebhookRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: WebhookHeaders;
  readonly body: Buffer;
  readonly now: number;
  /** Parsed when a scheme asks (Twilio, Graph), once; null until then. */
  #parsed: URL | undefined | null = null;

  constructor(input: Omit<VerifyWebhookInput, 'secret'>) {
    this.method = String(input.method ?? '').toUpperCase();
    this.url = String(input.url ?? '');
    this.headers = new WebhookHeaders(input.headers ?? {});
    this.body = Buffer.isBuffer(input.rawBody) ? input.rawBody : Buffer.from(String(input.rawBody ?? ''), 'utf8');
    this.now = typeof input.now === 'number' && Number.isFinite(input.now) ? input.now : Date.now() / 1000;
  }

  get parsedUrl(): URL | undefined {
    if (this.#parsed === null) this.#parsed = parseUrl(this.url);
    return this.#parsed;
  }
}

function parseUrl(url: string): URL | undefined {
  try {
    return new URL(url, PLACEHOLDER_ORIGIN);
  } catch {
    return undefined;
  }
}
