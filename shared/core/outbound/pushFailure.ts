import { isSyncBridgeError, textOfThrown } from '../errors';
import { maskAuthSchemes } from '../masking';
import type { PushOperation } from '../model';
import type { DeadLetterReason } from '../../ports/conflictStore';

/**
 * What a failed push becomes:
 * - `retry`: try again later (backoff, or the provider's Retry-After); once retries run out, a
 *   `retry_exhausted` dead letter whose reason code is `exhausted`;
 * - `park`: a conflict a person settles through the admin API, whose resolution pushes again;
 * - `dead`: a dead letter a person replays once the cause is fixed.
 */
export type PushFailure =
  | { action: 'retry'; exhausted: Extract<DeadLetterReason, 'retries_exhausted' | 'internal_error'> }
  | { action: 'park'; kind: 'validation_error' | 'duplicate_key' | 'data_mismatch'; reason: string }
  | { action: 'dead'; kind: 'auth_error' | 'retry_exhausted'; reasonCode: DeadLetterReason; reason: string };

/**
 * 4xx answers that ask to be tried again rather than refuse the change: 408 Request Timeout and
 * 425 Too Early (RFC 8470) say "not now", like a 429. 412 on a push means the provider's copy
 * changed again between the worker's read and its write; the next attempt reads and merges again.
 */
const RETRIED_4XX = new Set([408, 412, 425]);

/**
 * The longest error text a stored reason quotes. The HTTP client already cuts what a provider
 * said to 200 characters; this bounds the text of our own failures (a store's, a bug's) too.
 */
const MAX_ERROR_TEXT = 500;

/**
 * The one place that decides what a failure of a push means (OutboundService.onFailure).
 *
 * | failure | becomes |
 * |---|---|
 * | 5xx, network, timeout, cut-off body (`transient`: the provider's, or our store's: Cosmos DB 503); 429 (`rate_limited`); 408, 412, 425 | retry |
 * | a lost race with another writer of our store that escaped (`conflict`) | retry: the next attempt reads again |
 * | any exception no layer classified (not a SyncBridgeError: a bug) | retry: a fault that passes cannot be told from a bug; dead `internal_error` once retries run out |
 * | 401, 403 (`auth_failed`) | dead, auth_error, `provider_auth` |
 * | 409 Conflict | parked duplicate_key: the provider holds a clashing record |
 * | 422 naming the code "taken" (the sandbox's and many CRMs' unique-value clash) | parked duplicate_key |
 * | 404, 410 on an update | parked data_mismatch: the provider no longer has the record, as when a read finds it gone |
 * | a success answer the adapter cannot use (`provider_rejected` with a 2xx status: a create answered without an id) | parked data_mismatch: the provider probably holds the record; sending it again could create it twice |
 * | 404, 410 on a create; 400, 413, 415, 422 and every other 4xx | parked validation_error: a person must change the data (or the mapping) |
 * | `internal` (a contract breach SyncBridge declared) | dead, retry_exhausted, `internal_error`: no retry changes it |
 * | `configuration` and the rest (a read-only provider, a missing credential, a connection's bad config) | dead, retry_exhausted, `configuration`: a person fixes the setup and replays |
 *
 * A 404 or 410 on a delete never gets here: the record is gone, which is what the delete wanted
 * (see `isGone`); nor does an `auth_failed` whose connection is now parked for reauthorization
 * or paused: the worker holds that push until the connection is active (connectionHold.ts). `reason` quotes the error (failureText), whose provider text the HTTP client
 * already masked.
 */
export function classifyPushFailure(error: unknown, op: PushOperation): PushFailure {
  const message = failureText(error);
  if (!isSyncBridgeError(error)) return { action: 'retry', exhausted: 'internal_error' };
  if (error.code === 'transient' || error.code === 'rate_limited' || error.code === 'conflict') return { action: 'retry', exhausted: 'retries_exhausted' };
  if (error.code === 'auth_failed') return { action: 'dead', kind: 'auth_error', reasonCode: 'provider_auth', reason: message };
  if (error.code === 'internal') {
    return { action: 'dead', kind: 'retry_exhausted', reasonCode: 'internal_error', reason: `A fault in SyncBridge, not the provider's, stopped the push: ${message}` };
  }
  if (error.code !== 'provider_rejected') {
    return { action: 'dead', kind: 'retry_exhausted', reasonCode: 'configuration', reason: `SyncBridge cannot make this push as the connection is set up: ${message}` };
  }
  const status = error.status;
  if (status !== undefined && status >= 200 && status < 300) {
    return { action: 'park', kind: 'data_mismatch', reason: `The provider accepted the change, but its answer cannot be used: ${message}` };
  }
  if (status !== undefined && RETRIED_4XX.has(status)) return { action: 'retry', exhausted: 'retries_exhausted' };
  if (status === 409 || (status === 422 && /"taken"/.test(message))) {
    return { action: 'park', kind: 'duplicate_key', reason: `The provider refused the change as a clash with a record it holds: ${message}` };
  }
  if (isGone(error) && op !== 'create') {
    return { action: 'park', kind: 'data_mismatch', reason: `The provider no longer has the record it was asked to change: ${message}` };
  }
  return { action: 'park', kind: 'validation_error', reason: `The provider refused the change: ${message}` };
}

/**
 * The text of a failure as stored (an outbox entry's lastError, a conflict's reason). A provider's
 * words were masked by the HTTP client against the credentials it sent; an exception of our own (a
 * bug, a store fault) never went through it, so any `Bearer`/`Basic` credential is masked here,
 * before the text is cut to MAX_ERROR_TEXT (so that the cut cannot leave a token's head behind).
 */
export function failureText(error: unknown): string {
  return maskAuthSchemes(error instanceof Error ? error.message : textOfThrown(error)).slice(0, MAX_ERROR_TEXT);
}

/** 404 Not Found or 410 Gone from the provider: it has no such record (a delete's goal reached). */
export function isGone(error: unknown): boolean {
  return isSyncBridgeError(error, 'provider_rejected') && (error.status === 404 || error.status === 410);
}

/** 412 Precondition Failed: the If-Match sent with the push no longer holds (the remote changed). */
export function isPreconditionFailed(error: unknown): boolean {
  return isSyncBridgeError(error, 'provider_rejected') && error.status === 412;
}
