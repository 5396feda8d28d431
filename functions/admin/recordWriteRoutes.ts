import { z } from 'zod';
import { SyncBridgeError } from '../../shared/core/errors';
import type { JsonObject, SyncRecord } from '../../shared/core/model';
import { twoWayFor } from '../../shared/core/outbound/registry';
import { requireRole } from '../../shared/core/tenantService';
import { json } from '../http/responses';
import { parseWith } from '../http/validation';
import { idempotentWrite } from './idempotencyKey';
import type { AdminRequest, AdminRoute } from './router';
import { toRecordView } from './recordRoutes';

function view(record: SyncRecord) {
  return { ...toRecordView(record), pendingPush: record.pendingPush ?? null };
}

const fieldsSchema = z.record(z.string().min(1), z.unknown()).refine((fields) => Object.keys(fields).length > 0, 'must hold at least one field');

async function readFields(request: AdminRequest['request']): Promise<JsonObject> {
  let body: unknown;
  try {
    body = await request.json();
  } catch (cause) {
    throw new SyncBridgeError('validation', 'The request body must be a JSON object of record fields.', { cause });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SyncBridgeError('validation', 'The request body must be a JSON object of record fields.');
  return parseWith(fieldsSchema, body, 'body') as JsonObject;
}

/** The connection must exist for the caller's tenant and sync the entity both ways. */
async function scopeOf({ params, principal, services }: AdminRequest) {
  requireRole(principal, 'operator');
  const connection = await services.connections.getForTenant(principal.tenantId, params.id);
  const entity = connection.entities.find((e) => e.name === params.entity);
  if (!entity) throw new SyncBridgeError('not_found', `Connection ${connection.id} has no entity "${params.entity}".`);
  if (entity.direction === 'pull') throw new SyncBridgeError('validation', `Entity "${entity.name}" of connection ${connection.id} syncs one way (pull); set its direction to "both" to write.`);
  return { tenantId: principal.tenantId, connectionId: connection.id, entity: entity.name };
}

/**
 * Local changes: each stores the record and its pending push together, then queues the push.
 * With an Idempotency-Key header, a repeat of the same request answers the first result
 * (idempotencyKey.ts); POST passes the key's local id so that a create is never made twice.
 */
export const recordWriteRoutes: AdminRoute[] = [
  {
    method: 'POST',
    path: 'connections/{id}/records/{entity}',
    async handle(request) {
      const scope = await scopeOf(request);
      const fields = await readFields(request.request);
      return idempotentWrite({
        platform: request.services.platform,
        header: request.request.headers.get('idempotency-key'),
        scope,
        request: { method: 'POST', fields },
        run: async (localId) => json(202, view(await twoWayFor(request.services).changes.create(scope, fields, { localId }))),
      });
    },
  },
  {
    method: 'PATCH',
    path: 'connections/{id}/records/{entity}/{externalId}',
    async handle(request) {
      const scope = await scopeOf(request);
      const fields = await readFields(request.request);
      const { externalId } = request.params;
      return idempotentWrite({
        platform: request.services.platform,
        header: request.request.headers.get('idempotency-key'),
        scope,
        request: { method: 'PATCH', externalId, fields },
        run: async () => {
          // 200 when nothing changed, even while an earlier change still waits to be pushed.
          const { record, changed } = await twoWayFor(request.services).changes.update(scope, externalId, fields);
          return json(changed ? 202 : 200, view(record));
        },
      });
    },
  },
  {
    method: 'DELETE',
    path: 'connections/{id}/records/{entity}/{externalId}',
    async handle(request) {
      const scope = await scopeOf(request);
      const { externalId } = request.params;
      return idempotentWrite({
        platform: request.services.platform,
        header: request.request.headers.get('idempotency-key'),
        scope,
        request: { method: 'DELETE', externalId },
        run: async () => json(202, view(await twoWayFor(request.services).changes.remove(scope, externalId))),
      });
    },
  },
];
