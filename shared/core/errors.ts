/**
 * One domain error type for the whole product. The `code` comes from a fixed list so that callers
 * branch on it rather than on message text; HTTP statuses are chosen only at the edge
 * (functions/), from the code.
 */
export type SyncBridgeErrorCode =
  | 'validation' // the caller sent something malformed; the message names the bad field
  | 'not_found' // the thing does not exist, or belongs to another tenant
  | 'conflict' // optimistic concurrency lost, or a state transition that is not allowed now
  | 'unauthorized' // missing or unknown credentials
  | 'forbidden' // known credentials without the needed role
  | 'rate_limited' // a provider asked us to wait; `retryAt` says until when
  | 'transient' // a failure that may pass: 5xx, timeouts, truncated bodies, resets
  | 'provider_rejected' // the provider refused the request for good (4xx other than 401/429)
  | 'auth_failed' // the provider rejected our credentials
  | 'configuration' // bad options or environment; the message names the option
  | 'internal';

export interface SyncBridgeErrorOptions {
  cause?: unknown;
  /** For `rate_limited`: when the provider's window opens again. */
  retryAt?: Date;
  /** For provider errors: the HTTP status the provider answered. */
  status?: number;
  /**
   * The message was written for the API's caller and quotes nothing of a dependency's error, so a
   * 5xx answer may show it (by default a 5xx shows only a fixed text and a trace id).
   */
  forCaller?: boolean;
}

export class SyncBridgeError extends Error {
  readonly code: SyncBridgeErrorCode;
  readonly retryAt?: Date;
  readonly status?: number;
  readonly forCaller: boolean;

  constructor(code: SyncBridgeErrorCode, message: string, options: SyncBridgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SyncBridgeError';
    this.code = code;
    this.retryAt = options.retryAt;
    this.status = options.status;
    this.forCaller = options.forCaller ?? false;
  }
}

export function isSyncBridgeError(value: unknown, code?: SyncBridgeErrorCode): value is SyncBridgeError {
  return value instanceof SyncBridgeError && (code === undefined || value.code === code);
}

/** Turns anything thrown into an Error, so that handlers can rely on `.message`. */
export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(textOfThrown(value));
}

/** The text of a thrown value that is not an Error: a string as is, else its JSON, else String(). */
export function textOfThrown(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value); // a cycle, a BigInt
  }
}
