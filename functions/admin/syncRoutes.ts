import { z } from 'zod';
import { SyncBridgeError } from '../../shared/core/errors';
import type { Run } from '../../shared/core/model';
import { toRunView, type RunView } from '../../shared/core/runs/runView';
import { requireRole } from '../../shared/core/tenantService';
import type { Services } from '../../shared/composition';
import type { Telemetry } from '../../shared/ports/telemetry';
import { json } from '../http/responses';
import { entityNameList, parseWith, readJsonBody } from '../http/validation';
import type { AdminRoute } from './router';
import { maskStoredErrorText } from './storedErrorText';

const startSyncSchema = z.object({
  mode: z.enum(['full', 'incremental']).default('incremental'),
  entities: entityNameList(z.string().min(1), (name) => name).optional(),
});

const listSchema = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) });

async function runForTenant(services: Services, tenantId: string, runId: string): Promise<Run> {
  const run = await services.platform.runs.get(runId);
  if (!run || run.tenantId !== tenantId) throw new SyncBridgeError('not_found', `Run ${runId} does not exist.`);
  return run;
}

/**
 * The run as the API shows it (toRunView), its errors and its entities' masked again
 * (storedErrorText.ts): a run stored by an earlier release may quote a credential.
 */
function runView(run: Run, now: Date, telemetry: Telemetry): RunView {
  const view = toRunView(run, now);
  return {
    ...view,
    entities: view.entities.map((entity) => ({ ...entity, lastError: maskStoredErrorText(entity.lastError, telemetry) })),
    lastError: maskStoredErrorText(view.lastError, telemetry),
  };
}

function control(action: 'pause' | 'resume' | 'cancel'): AdminRoute {
  return {
    method: 'POST',
    path: `syncs/{runId}/${action}`,
    async handle({ params, principal, services }) {
      requireRole(principal, 'operator');
      await runForTenant(services, principal.tenantId, params.runId);
      const run = await services.runs[action](params.runId);
      return json(200, runView(run, services.platform.clock.now(), services.platform.telemetry));
    },
  };
}

export const syncRoutes: AdminRoute[] = [
  {
    method: 'POST',
    path: 'connections/{id}/syncs',
    async handle({ request, params, principal, services }) {
      requireRole(principal, 'operator');
      const connection = await services.connections.getForTenant(principal.tenantId, params.id);
      const body = parseWith(startSyncSchema, await readJsonBody(request), 'body');
      const run = await services.runs.startRun({ connection, mode: body.mode, entities: body.entities, trigger: 'api' });
      return json(202, { runId: run.id, state: run.state }, { location: `/api/syncs/${run.id}` });
    },
  },
  {
    method: 'GET',
    path: 'connections/{id}/syncs',
    async handle({ request, params, principal, services }) {
      await services.connections.getForTenant(principal.tenantId, params.id);
      const { limit } = parseWith(listSchema, Object.fromEntries(request.query.entries()), 'query');
      const runs = await services.platform.runs.listByConnection(params.id, { limit });
      const now = services.platform.clock.now();
      return json(200, { runs: runs.map((run) => runView(run, now, services.platform.telemetry)) });
    },
  },
  {
    method: 'GET',
    path: 'syncs/{runId}',
    async handle({ params, principal, services }) {
      const run = await runForTenant(services, principal.tenantId, params.runId);
      return json(200, runView(run, services.platform.clock.now(), services.platform.telemetry));
    },
  },
  control('pause'),
  control('resume'),
  control('cancel'),
];
