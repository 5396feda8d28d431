import { z } from 'zod';
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
];
