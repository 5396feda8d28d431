import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { conflictRoutes } from './admin/conflictRoutes';
import { connectionRoutes } from './admin/connectionRoutes';
import { deliveryRoutes } from './admin/deliveryRoutes';
import { recordRoutes } from './admin/recordRoutes';
import { recordWriteRoutes } from './admin/recordWriteRoutes';
import { AdminRouter } from './admin/router';
import { syncRoutes } from './admin/syncRoutes';
import type { FunctionDefinition } from './definition';
import { errorResponse, toErrorResponse } from './http/responses';
import { getServices } from './services';
import { runInTrace } from '../shared/core/traceContext';

const router = new AdminRouter([...connectionRoutes, ...syncRoutes, ...recordRoutes, ...recordWriteRoutes, ...conflictRoutes, ...deliveryRoutes]);

/**
 * The admin API: one function with a catch-all route. Routes with literal segments (health,
 * webhooks/…) take precedence over the catch-all in the Functions host, as in ASP.NET routing.
 */
export async function adminApiHandler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  // Each call is a trace (continuing the caller's `traceparent`): what it logs, and the queue
  // messages it sends (a local edit's push, a conflict resolution), carry it into the workers.
  return runInTrace(request.headers.get('traceparent') ?? undefined, () => handleAdminRequest(request, context));
}

async function handleAdminRequest(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const services = await getServices();
  try {
    // The key is checked before the route: otherwise 404 and 405 would tell a caller without a key
    // which paths and methods exist. Every public route (health, webhooks, the connect callback) is
    // a function of its own, so whatever reaches this catch-all needs a key.
    const principal = await services.tenants.authenticate(request.headers.get('x-api-key'));
    const path = (request.params.path ?? '').replace(/^\/+|\/+$/g, '');
    const match = router.match(request.method, path);
    if (match === undefined) return errorResponse(404, 'not_found', `There is no API route /api/${path}.`);
    if (match === 'method') return errorResponse(405, 'method_not_allowed', `/api/${path} does not take ${request.method}.`);
    return await match.route.handle({ request, params: match.params, principal, services });
  } catch (error) {
    context.warn?.(`Admin API ${request.method} failed: ${(error as Error).message}`);
    return toErrorResponse(error, services.platform.telemetry);
  }
}

export const adminApi: FunctionDefinition = {
  kind: 'http',
  name: 'adminApi',
  options: { route: '{*path}', methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], authLevel: 'anonymous', handler: adminApiHandler },
};
