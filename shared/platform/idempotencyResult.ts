import { SyncBridgeError } from '../core/errors';

/**
 * The JSON text an idempotency store keeps for `complete(key, result)`: `undefined` becomes JSON
 * null (so "completed" is still recorded), and a value JSON cannot hold is a validation error.
 * Shared by every IdempotencyStore implementation.
 */
export function idempotencyResultJson(key: string, result: unknown): string {
  try {
    return JSON.stringify(result) ?? 'null';
  } catch (error) {
    throw new SyncBridgeError('validation', `The result for idempotency key ${key} is not JSON-serialisable.`, { cause: error });
  }
}
