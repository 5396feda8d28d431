import { z } from 'zod';
import { toConnectionView } from '../../shared/core/connectionService';
import { replaceCredentials } from '../../shared/core/credentials/authorizationInstall';
import { credentialStatus } from '../../shared/core/credentials/credentialStatus';
import { oauthClientSecretName } from '../../shared/core/credentials/credentialNames';
import { credentialServiceFor } from '../../shared/core/credentials/registry';
import { requireRole } from '../../shared/core/tenantService';
import { DEFAULT_CONNECTION_PAGE_SIZE, MAX_CONNECTION_PAGE_SIZE } from '../../shared/ports/connectionStore';
import { json } from '../http/responses';
import { entityNameList, parseWith, readJsonBody } from '../http/validation';
import type { AdminRoute } from './router';

const credentialsSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('apiKey'), apiKey: z.string().min(1) }),
  z.object({ type: z.literal('bearer'), token: z.string().min(1) }),
  // OAuth 2 tokens obtained elsewhere; the usual way in is the connect flow (docs/oauth.md).
  z.object({
    type: z.literal('oauth2'),
    accessToken: z.string().min(1),
    refreshToken: z.string().min(1).optional(),
    expiresAt: z.string().datetime({ offset: true }).optional(),
    tokenUrl: z.string().url(),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1).optional(),
    scope: z.string().optional(),
    // Which grant renews it: a user's token (default) is renewed only with its refresh token, never
    // with the client-credentials grant, which would swap the user's identity for the app's.
    grant: z.enum(['authorization_code', 'client_credentials']).default('authorization_code'),
  }),
  z.object({ type: z.literal('none') }),
]).superRefine((credentials, context) => {
  if (credentials.type === 'oauth2' && credentials.grant === 'client_credentials' && !credentials.clientSecret) {
    context.addIssue({ code: z.ZodIssueCode.custom, path: ['clientSecret'], message: 'The client_credentials grant needs a clientSecret to renew the token.' });
  }
});

const createConnectionSchema = z.object({
  id: z.string().min(1),
  provider: z.string().min(1),
  displayName: z.string().max(200).optional(),
  config: z.record(z.string(), z.unknown()).default({}),
  credentials: credentialsSchema.optional(),
  entities: entityNameList(
    z.union([z.string().min(1), z.object({ name: z.string().min(1), direction: z.enum(['pull', 'push', 'both']) })]),
    (entry) => (typeof entry === 'string' ? entry : entry.name),
  ).optional(),
  schedule: z
    .object({
      cron: z.string().min(1).optional(),
      timeZone: z.string().min(1).optional(),
      mode: z.enum(['full', 'incremental']).optional(),
      enabled: z.boolean().optional(),
    })
    .optional(),
});

const listSchema = z.object({
  cursor: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_CONNECTION_PAGE_SIZE).default(DEFAULT_CONNECTION_PAGE_SIZE),
});

const oauthClientSecretSchema = z.object({ clientSecret: z.string().min(1) });

export const connectionRoutes: AdminRoute[] = [
  {
    method: 'GET',
    path: 'connections',
    async handle({ request, principal, services }) {
      const query = parseWith(listSchema, Object.fromEntries(request.query.entries()), 'query');
      const page = await services.platform.connections.listByTenant({ tenantId: principal.tenantId, ...query });
      return json(200, { connections: page.connections.map(toConnectionView), nextCursor: page.nextCursor });
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
  {
    // Holds the connection's pushes, webhook events and open run until it is resumed.
    method: 'POST',
    path: 'connections/{id}/pause',
    async handle({ params, principal, services }) {
      requireRole(principal, 'operator');
      const { connection, runs } = await services.connections.pause(principal.tenantId, params.id);
      return json(200, { ...toConnectionView(connection), pausedRuns: runs.paused, finishingRuns: runs.finishing });
    },
  },
  {
    // Active again (or reauthorization_required, if the provider refused its authorization while it was paused); its held pushes go out now, its held webhook deliveries are enqueued in receipt order (503 if the queue refuses one: resume again), and the run its pause paused resumes.
    method: 'POST',
    path: 'connections/{id}/resume',
    async handle({ params, principal, services }) {
      requireRole(principal, 'operator');
      const { connection, releasedDeliveries, releasedPushes, resumedRuns } = await services.connections.resume(principal.tenantId, params.id);
      return json(200, { ...toConnectionView(connection), releasedDeliveries, releasedPushes, resumedRuns });
    },
  },
  {
    method: 'GET',
    path: 'connections/{id}/credentials',
    async handle({ params, principal, services }) {
      const connection = await services.connections.getForTenant(principal.tenantId, params.id);
      return json(200, await credentialStatus(services.platform, connection));
    },
  },
  {
    // New credentials for a connection (validated like the create's): stored as a new version under
    // the refresh lease, the connection active again (a paused one stays paused), its held pushes sent.
    method: 'PUT',
    path: 'connections/{id}/credentials',
    async handle({ request, params, principal, services }) {
      requireRole(principal, 'admin');
      const connection = await services.connections.getForTenant(principal.tenantId, params.id);
      const credentials = parseWith(credentialsSchema, await readJsonBody(request), 'body');
      const replaced = await replaceCredentials(services.platform, credentialServiceFor(services.platform), connection, credentials);
      return json(200, await credentialStatus(services.platform, replaced));
    },
  },
  {
    method: 'PUT',
    path: 'connections/{id}/oauth-client-secret',
    async handle({ request, params, principal, services }) {
      requireRole(principal, 'admin');
      const connection = await services.connections.getForTenant(principal.tenantId, params.id);
      const body = parseWith(oauthClientSecretSchema, await readJsonBody(request), 'body');
      await services.platform.secrets.set(oauthClientSecretName(connection.id), body.clientSecret, {
        contentType: 'text/plain',
        tags: { tenantId: connection.tenantId, connectionId: connection.id, type: 'oauthClientSecret' },
      });
      // A connection parked because the provider refused the old secret can renew its token again.
      await credentialServiceFor(services.platform).clientSecretReplaced(connection);
      return { status: 204, headers: { 'cache-control': 'no-store' } };
    },
  },
];
