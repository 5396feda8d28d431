import { SyncBridgeError } from '../../../core/errors';

/** The HTTP status of a Cosmos SDK error (ErrorResponse.code is the status as a number). */
export function cosmosStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown; statusCode?: unknown } | null)?.code ?? (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export const isCosmosNotFound = (error: unknown): boolean => cosmosStatus(error) === 404;
export const isCosmosConflict = (error: unknown): boolean => cosmosStatus(error) === 409;
export const isCosmosPreconditionFailed = (error: unknown): boolean => cosmosStatus(error) === 412;

/**
 * A Cosmos failure as the domain sees it: 409/412 → conflict, 404 → not_found, 429 → rate_limited
 * (retryAt from the service's retry-after), 408/449/5xx and network errors → transient. The SDK
 * has already retried 429s and transient errors by its own policy when this is reached.
 */
export function toSyncBridgeError(error: unknown, what: string): SyncBridgeError {
  if (error instanceof SyncBridgeError) return error;
  const status = cosmosStatus(error);
  const detail = error instanceof Error ? error.message.split('\n')[0].slice(0, 300) : String(error);
  if (status === 409 || status === 412) return new SyncBridgeError('conflict', `${what}: changed by someone else (${status})`, { cause: error, status });
  if (status === 404) return new SyncBridgeError('not_found', `${what}: not found`, { cause: error, status });
  if (status === 429) {
    const retryAfterMs = (error as { retryAfterInMs?: number }).retryAfterInMs ?? 1000;
    return new SyncBridgeError('rate_limited', `${what}: Cosmos DB throttled the request (429)`, { cause: error, status, retryAt: new Date(Date.now() + retryAfterMs) });
  }
  if (status === 400) return new SyncBridgeError('internal', `${what}: Cosmos DB refused the request: ${detail}`, { cause: error, status });
  if (status === 401 || status === 403) return new SyncBridgeError('configuration', `${what}: Cosmos DB refused our identity (${status}); check the data-contributor role assignment`, { cause: error, status });
  return new SyncBridgeError('transient', `${what}: ${detail}`, { cause: error, status });
}
