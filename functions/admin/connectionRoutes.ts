import { z } from 'zod';
import { toConnectionView } from '../../shared/core/connectionService';
import { requireRole } from '../../shared/core/tenantService';
import { json } from '../http/responses';
import { parseWith, readJsonBody } from '../http/validation';
import type { AdminRoute } from './router';

const credentialsSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('apiKey'), apiKey: z.string().min(1) }),
  z.object({ type: z.literal('bearer'), token: z.string().min(1) }),
  z.object({ type: z.literal('none') }),
]);

const createConnectionSchema = z.object({
  id: z.string().min(1),
  provider: z.string().min(1),
  displayName: z.string().max(200).optional(),
  config: z.record(z.string(), z.unknown()).default({}),
  credentials: credentialsSchema.optional(),
  entities: z
    .array(z.union([z.string().min(1), z.object({ name: z.string().min(1), direction: z.enum(['pull', 'push', 'both']) })]))
    .min(1)
    .optional(),
  schedule: z
    .object({
      cron: z.string().min(1).optional(),
      timeZone: z.string().min(1).optional(),
      mode: z.enum(['full', 'incremental']).optional(),
      enabled: z.boolean().optional(),
    })
    .optional(),
});

export const connectionRoutes: AdminRoute[] = [
  {
    method: 'GET',
    path: 'connections',
    async handle({ principal, services }) {
      const connections = await services.platform.connections.listByTenant(principal.tenantId);
      return json(200, { connections: connections.map(toConnectionView) });
    },
  },
  {
    method: 'POST',
    path: 'connections',
    async handle({ request, principal, services }) {
      requireRole(principal, 'admin');
      const body = parseWith(createConnectionSchema, await readJsonBody(request), 'body');
      const connection = await services.connections.create({ ...body, tenantId: principal.tenantId });
      return json(201, toConnectionView(connection), { location: `/api/connections/${connection.id}` });
    },
  },
  {
    method: 'GET',
    path: 'connections/{id}',
    async handle({ params, principal, services }) {
      return json(200, toConnectionView(await services.connections.getForTenant(principal.tenantId, params.id)));
    },
  },
];
