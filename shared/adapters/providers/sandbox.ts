import { defineRestProvider } from '../restAdapter';

/**
 * The sandbox commerce API (sandbox/). Its canonical mapping is the identity: a record's data is
 * the record as served. Tombstones come as `{ id, deleted: true, updated_at }` in incremental reads.
 */
export const sandboxProvider = defineRestProvider({
  provider: 'sandbox',
  displayName: 'Sandbox commerce API',
  entities: ['customers', 'products', 'orders', 'inventory', 'payments'],
  maxPageSize: 1000,
  auth: { kind: 'apiKeyOrBearer', header: 'x-api-key' },
  list: {
    path: '/v1/{entity}',
    limitParam: 'limit',
    cursorParam: 'cursor',
    sinceParam: 'updated_since',
    dataField: 'data',
    nextCursorField: 'next_cursor',
    totalField: 'total',
  },
  record: { idField: 'id', updatedAtField: 'updated_at', deletedField: 'deleted' },
  recordPath: '/v1/{entity}/{id}',
  healthPath: '/v1/customers?limit=1',
  // PATCH merges top-level fields, so a push sends only what changed locally and cannot undo a
  // concurrent remote change to another field. id and the timestamps are the sandbox's (422 read_only).
  write: { updateMethod: 'PATCH', readOnlyFields: ['id', 'created_at', 'updated_at', 'deleted'] },
});
