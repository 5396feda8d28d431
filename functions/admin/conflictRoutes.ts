import { z } from 'zod';
import { SyncBridgeError } from '../../shared/core/errors';
import type { Conflict } from '../../shared/ports/conflictStore';
import type { Telemetry } from '../../shared/ports/telemetry';
import { twoWayFor } from '../../shared/core/outbound/registry';
import { requireRole } from '../../shared/core/tenantService';
import { json } from '../http/responses';
import { parseWith } from '../http/validation';
import type { AdminRoute } from './router';
import { maskStoredErrorText } from './storedErrorText';

const listSchema = z.object({
  state: z.enum(['open', 'resolved']).optional(),
  connectionId: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().min(1).optional(),
});

const resolveSchema = z.object({
  resolution: z.enum(['local', 'remote', 'custom']),
  data: z.record(z.string().min(1), z.unknown()).optional(),
});

/**
 * A conflict with its three versions laid out field by field, for a person to decide; its reason
 * masked again (storedErrorText.ts), since one stored by an earlier release may quote a credential.
 */
function toConflictView(conflict: Conflict, telemetry: Telemetry) {
  return {
    ...conflict,
    reason: maskStoredErrorText(conflict.reason, telemetry),
    sideBySide: conflict.fields.map((field) => ({
      field,
      base: conflict.base?.[field] ?? null,
      local: conflict.local?.[field] ?? null,
      remote: conflict.remote?.[field] ?? null,
    })),
  };
}

async function readJson(request: { json(): Promise<unknown> }): Promise<unknown> {
  try {
    return await request.json();
  } catch {
    return undefined; // the schema names what is missing
  }
}

export const conflictRoutes: AdminRoute[] = [
  {
    method: 'GET',
    path: 'conflicts',
    async handle({ request, principal, services }) {
      const query = parseWith(listSchema, Object.fromEntries(request.query.entries()), 'query');
      const page = await services.platform.conflicts.list({ tenantId: principal.tenantId, ...query });
      return json(200, { conflicts: page.conflicts.map((conflict) => toConflictView(conflict, services.platform.telemetry)), nextCursor: page.nextCursor });
    },
  },
  {
    method: 'GET',
    path: 'conflicts/stats',
    async handle({ principal, services }) {
      return json(200, { stats: await services.platform.conflicts.stats(principal.tenantId) });
    },
  },
  {
    method: 'GET',
    path: 'conflicts/{id}',
    async handle({ params, principal, services }) {
      const conflict = await services.platform.conflicts.get(principal.tenantId, params.id);
      if (!conflict) throw new SyncBridgeError('not_found', `There is no conflict ${params.id}.`);
      return json(200, toConflictView(conflict, services.platform.telemetry));
    },
  },
  {
    method: 'POST',
    path: 'conflicts/{id}/resolve',
    async handle({ request, params, principal, services }) {
      requireRole(principal, 'operator');
      const body = parseWith(resolveSchema, await readJson(request), 'body');
      const { conflict, record } = await twoWayFor(services).conflicts.resolve(principal.tenantId, params.id, body);
      return json(200, { conflict: toConflictView(conflict, services.platform.telemetry), pendingPush: record?.pendingPush ?? null });
    },
  },
  {
    method: 'POST',
    path: 'deadletters/{id}/replay',
    async handle({ params, principal, services }) {
      requireRole(principal, 'operator');
      return json(202, await twoWayFor(services).conflicts.replay(principal.tenantId, params.id));
    },
  },
];
