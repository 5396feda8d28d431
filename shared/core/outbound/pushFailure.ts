import { isSyncBridgeError } from '../errors';
import type { PushOperation } from '../model';

/**
 * What a failed push becomes:
 * - `retry`: try again later (backoff, or the provider's Retry-After); dead once retries run out;
 * - `park`: a conflict a person settles through the admin API, whose resolution pushes again;
 * - `dead`: a dead letter a person replays once the cause is fixed.
 */
export type PushFailure =
  | { action: 'retry' }
  | { action: 'park'; kind: 'validation_error' | 'duplicate_key' | 'data_mismatch'; reason: string }
  | { action: 'dead'; kind: 'auth_error' | 'retry_exhausted'; reason: string };

/**
 * 4xx answers that ask to be tried again rather than refuse the change: 408 Request Timeout and
 * 425 Too Early (RFC 8470) say "not now", like a 429. 412 on a push means the provider's copy
 * changed again between the worker's read and its write; the next attempt reads and merges again.
 */
const RETRIED_4XX = new Set([408, 412, 425]);

/**
 * The one place that decides what a provider's failure of a push means (OutboundService.onFailure).
 *
 * | failure | becomes |
 * |---|---|
 * | 5xx, network, timeout, cut-off body (`transient`); 429 (`rate_limited`); 408, 412, 425 | retry |
 * | 401, 403 (`auth_failed`) | dead, auth_error |
 * | 409 Conflict | parked duplicate_key: the provider holds a clashing record |
 * | 422 naming the code "taken" (the sandbox's and many CRMs' unique-value clash) | parked duplicate_key |
 * | 404, 410 on an update | parked data_mismatch: the provider no longer has the record, as when a read finds it gone |
 * | 404, 410 on a create; 400, 413, 415, 422 and every other 4xx | parked validation_error: a person must change the data (or the mapping) |
 * | anything else (a read-only provider, a bug) | dead, retry_exhausted: nothing a retry or a data fix settles |
 *
 * A 404 or 410 on a delete never gets here: the record is gone, which is what the delete wanted
 * (see `isGone`). `reason` quotes the error, whose provider text the HTTP client already masked.
 */
export function classifyPushFailure(error: unknown, op: PushOperation): PushFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (isSyncBridgeError(error, 'transient') || isSyncBridgeError(error, 'rate_limited')) return { action: 'retry' };
  if (isSyncBridgeError(error, 'auth_failed')) return { action: 'dead', kind: 'auth_error', reason: message };
  if (!isSyncBridgeError(error, 'provider_rejected')) return { action: 'dead', kind: 'retry_exhausted', reason: message };
  const status = error.status;
  if (status !== undefined && RETRIED_4XX.has(status)) return { action: 'retry' };
  if (status === 409 || (status === 422 && /"taken"/.test(message))) {
    return { action: 'park', kind: 'duplicate_key', reason: `The provider refused the change as a clash with a record it holds: ${message}` };
  }
  if (isGone(error) && op !== 'create') {
    return { action: 'park', kind: 'data_mismatch', reason: `The provider no longer has the record it was asked to change: ${message}` };
  }
  return { action: 'park', kind: 'validation_error', reason: `The provider refused the change: ${message}` };
}

/** 404 Not Found or 410 Gone from the provider: it has no such record (a delete's goal reached). */
export function isGone(error: unknown): boolean {
  return isSyncBridgeError(error, 'provider_rejected') && (error.status === 404 || error.status === 410);
}

/** 412 Precondition Failed: the If-Match sent with the push no longer holds (the remote changed). */
export function isPreconditionFailed(error: unknown): boolean {
  return isSyncBridgeError(error, 'provider_rejected') && error.status === 412;
}
