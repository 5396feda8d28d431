import { SyncBridgeError } from '../shared/core/errors';
import { SandboxEntity } from './entities';
import { ListQuery } from './entityStore';
import { decodeCursor } from './listingKey';
import { parseIsoMs } from './timeline';

export const DEFAULT_PAGE_SIZE = 100;

/**
 * Reads `updated_since`, `cursor` and `limit` of a listing. Every problem is a validation error
 * that names the parameter, because a client that sends a bad cursor must not silently restart
 * from the beginning.
 */
export function parseListingQuery(entity: SandboxEntity, params: URLSearchParams, maxPageSize: number): ListQuery {
  const query: ListQuery = { limit: DEFAULT_PAGE_SIZE };

  const limit = params.get('limit');
  if (limit !== null) {
    const value = /^\d{1,9}$/.test(limit) ? Number(limit) : NaN;
    if (!(value >= 1 && value <= maxPageSize)) {
      throw new SyncBridgeError('validation', `Query parameter 'limit' must be an integer from 1 to ${maxPageSize}; got '${limit}'.`);
    }
    query.limit = value;
  }

  const since = params.get('updated_since');
  if (since !== null) {
    const ms = parseIsoMs(since);
    if (ms === undefined) {
      throw new SyncBridgeError('validation', `Query parameter 'updated_since' must be an ISO-8601 date-time such as 2026-01-01T00:00:07Z; got '${since}'.`);
    }
    // Inclusive at second resolution: a record stamped second s matches when s * 1000 >= ms.
    query.sinceSecond = Math.ceil(ms / 1000);
  }

  const cursor = params.get('cursor');
  if (cursor !== null && cursor !== '') {
    const after = decodeCursor(entity, cursor);
    if (!after) throw new SyncBridgeError('validation', `Query parameter 'cursor' is not a cursor this ${entity} listing issued.`);
    query.after = after;
  }
  return query;
}
