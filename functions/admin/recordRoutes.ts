import { z } from 'zod';
import { SyncBridgeError } from '../../shared/core/errors';
import type { SyncRecord } from '../../shared/core/model';
import { json } from '../http/responses';
import { parseWith } from '../http/validation';
import type { AdminRoute } from './router';

const querySchema = z.object({
  entity: z.string().min(1).optional(),
  modifiedAfter: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time, e.g. 2026-01-01T00:00:00Z' }).optional(),
  cursor: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  includeDeleted: z.enum(['true', 'false']).default('true'),
});

export function toRecordView(record: SyncRecord) {
  return {
    externalId: record.externalId,
    entity: record.entity,
    data: record.data,
    metadata: {
      id: record.id,
      version: record.version,
      hash: record.hash,
      firstSeenAt: record.firstSeenAt,
      lastModifiedAt: record.lastModifiedAt,
      lastAction: record.lastAction,
      deleted: record.deleted,
      deletedAt: record.deletedAt ?? null,
      sourceUpdatedAt: record.sourceUpdatedAt ?? null,
      // A pushed create moves to the provider's id (docs/two-way-sync.md, *Creates*): the
      // tombstone at the old id names the new one, the record at the new id its earlier ids.
      movedTo: record.movedTo ?? null,
      previousIds: record.previousIds ?? [],
    },
  };
}

export const recordRoutes: AdminRoute[] = [
  {
    method: 'GET',
    path: 'connections/{id}/records',
    async handle({ request, params, principal, services }) {
      await services.connections.getForTenant(principal.tenantId, params.id);
      const query = parseWith(querySchema, Object.fromEntries(request.query.entries()), 'query');
      const page = await services.platform.records.list({
        tenantId: principal.tenantId,
        connectionId: params.id,
        entity: query.entity,
        modifiedAfter: query.modifiedAfter === undefined ? undefined : new Date(query.modifiedAfter).toISOString(),
        cursor: query.cursor,
        limit: query.limit,
        includeDeleted: query.includeDeleted === 'true',
      });
      return json(200, { records: page.records.map(toRecordView), nextCursor: page.nextCursor });
    },
  },
  {
    // One record by its external id, tombstones included, as the listing shows it: the record
    // stored under THIS id. A create that moved to the provider's id answers with the tombstone it
    // left (`deleted: true`, `metadata.movedTo`), which the client follows with a GET of its own
    // rather than being handed another record under the id it asked for (docs/admin-api.md).
    method: 'GET',
    path: 'connections/{id}/records/{entity}/{externalId}',
    async handle({ params, principal, services }) {
      const connection = await services.connections.getForTenant(principal.tenantId, params.id);
      const scope = { tenantId: principal.tenantId, connectionId: connection.id, entity: params.entity };
      const record = await services.platform.records.get(scope, params.externalId);
      if (!record) throw new SyncBridgeError('not_found', `Connection ${connection.id} has no ${params.entity} record "${params.externalId}".`);
      return json(200, { ...toRecordView(record), pendingPush: record.pendingPush ?? null });
    },
  },
];
