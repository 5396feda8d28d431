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
  const url = String(input.url ?? '');
  let parsedUrl: URL | undefined | null = null; // parsed when a scheme asks (Twilio, Graph), once
  return {
    method: String(input.method ?? '').toUpperCase(),
    url,
    get parsedUrl() {
      if (parsedUrl === null) parsedUrl = parseUrl(url);
      return parsedUrl;
    },
    headers: new WebhookHeaders(input.headers ?? {}),
    body: Buffer.isBuffer(input.rawBody) ? input.rawBody : Buffer.from(String(input.rawBody ?? ''), 'utf8'),
    now: typeof input.now === 'number' && Number.isFinite(input.now) ? input.now : Date.now() / 1000,
  };
}

function parseUrl(url: string): URL | undefined {
  try {
    return new URL(url, PLACEHOLDER_ORIGIN);
  } catch {
    return undefined;
  }
}
