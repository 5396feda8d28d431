import { SyncBridgeError } from '../../../core/errors';

/** The HTTP status of a Cosmos SDK error (ErrorResponse.code is the status as a number). */
export function cosmosStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown; statusCode?: unknown } | null)?.code ?? (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** The service's substatus (ErrorResponse.substatus), which tells apart failures of one status. */
export function cosmosSubstatus(error: unknown): number | undefined {
  const substatus = (error as { substatus?: unknown } | null)?.substatus;
  return typeof substatus === 'number' ? substatus : undefined;
}

/** 403 substatus 1014: the logical partition has reached Cosmos DB's 20 GB limit. */
export const PARTITION_FULL_SUBSTATUS = 1014;

/**
 * What the service said, first line only: an Error's message, else the `message` of an error
 * object or of its body (the SDK's ErrorResponse keeps the service's text in `body.message`).
 */
export function cosmosErrorText(error: unknown): string {
  const candidates = [
    (error as { message?: unknown } | null)?.message,
    (error as { body?: { message?: unknown } } | null)?.body?.message,
  ];
  const text = candidates.find((c): c is string => typeof c === 'string' && c.trim() !== '');
  const whole = text ?? (typeof error === 'string' ? error : safeJson(error));
  return whole.split('\n')[0].slice(0, 300);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export const isCosmosNotFound = (error: unknown): boolean => cosmosStatus(error) === 404;
export const isCosmosConflict = (error: unknown): boolean => cosmosStatus(error) === 409;
export const isCosmosPreconditionFailed = (error: unknown): boolean => cosmosStatus(error) === 412;

/**
 * A Cosmos failure as the domain sees it: 409/412 → conflict, 404 → not_found, 429 → rate_limited
 * (retryAt from the service's retry-after), 413 → validation (too large: no retry helps), 403
 * substatus 1014 → internal naming the full partition (not the identity's role: retrying or
 * fixing roles cannot help), 401/403 → configuration, 408/449/5xx and network errors → transient. The SDK
 * has already retried 429s and transient errors by its own policy when this is reached.
 */
export function toSyncBridgeError(error: unknown, what: string): SyncBridgeError {
  if (error instanceof SyncBridgeError) return error;
  const status = cosmosStatus(error);
  const detail = cosmosErrorText(error);
  if (status === 409 || status === 412) return new SyncBridgeError('conflict', `${what}: changed by someone else (${status})`, { cause: error, status });
  if (status === 404) return new SyncBridgeError('not_found', `${what}: not found`, { cause: error, status });
  if (status === 429) {
    const retryAfterMs = (error as { retryAfterInMs?: number }).retryAfterInMs ?? 1000;
    return new SyncBridgeError('rate_limited', `${what}: Cosmos DB throttled the request (429)`, { cause: error, status, retryAt: new Date(Date.now() + retryAfterMs) });
  }
  if (status === 400) return new SyncBridgeError('internal', `${what}: Cosmos DB refused the request: ${detail}`, { cause: error, status });
  // Too large for the service (an item over 2 MB, a request over its limit): the same request fails again.
  if (status === 413) return new SyncBridgeError('validation', `${what}: Cosmos DB refused a request too large (413): ${detail}`, { cause: error, status });
  if (status === 403 && cosmosSubstatus(error) === PARTITION_FULL_SUBSTATUS) {
    return new SyncBridgeError('internal', `${what}: the connection's logical partition is full (Cosmos DB's 20 GB per partition key; 403 substatus 1014). Nothing more can be written for this connection until documents of it are removed: ${detail}`, { cause: error, status });
  }
  if (status === 401 || status === 403) return new SyncBridgeError('configuration', `${what}: Cosmos DB refused our identity (${status}); check the data-contributor role assignment`, { cause: error, status });
  return new SyncBridgeError('transient', `${what}: ${detail}`, { cause: error, status });
}
