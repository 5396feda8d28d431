import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { ConnectFlow } from '../shared/core/credentials/connectFlow';
import { credentialServiceFor } from '../shared/core/credentials/registry';
import { isSyncBridgeError } from '../shared/core/errors';
import { requireRole } from '../shared/core/tenantService';
import type { FunctionDefinition } from './definition';
import { toErrorResponse } from './http/responses';
import { getServices } from './services';

/**
 * The OAuth 2 connect flow (docs/oauth.md):
 * - `GET /api/connect/{provider}?connection=<id>` (admin key in x-api-key) → 302 to the provider's
 *   authorize URL with state and PKCE.
 * - `GET /api/connect/callback?code=&state=` (the provider's redirect of the browser, no key: the
 *   single-use state names the tenant) → exchanges the code and stores the credential.
 * Answers are JSON when the caller asks for it (Accept: application/json), else a small HTML page.
 */
export async function connectHandler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const services = await getServices();
  const flow = new ConnectFlow(services.platform, credentialServiceFor(services.platform));
  const path = (request.params.path ?? '').replace(/^\/+|\/+$/g, '');
  const wantsJson = (request.headers.get('accept') ?? '').includes('application/json');
  try {
    if (path === 'callback') {
      const q = request.query;
      const connection = await flow.complete({ code: q.get('code') ?? undefined, state: q.get('state') ?? undefined, error: q.get('error') ?? undefined });
      const message = `Connection ${connection.id} is connected to ${connection.provider}.`;
      return wantsJson ? json(200, { connectionId: connection.id, status: connection.status, message }) : html(200, 'Connected', message);
    }
    // Only the callback is public: the key comes before the 404, which would otherwise show a
    // caller without one which paths exist (as in the admin API).
    const principal = await services.tenants.authenticate(request.headers.get('x-api-key'));
    if (path === '' || path.includes('/')) return answer(404, 'not_found', `There is no connect route /api/connect/${path}.`, wantsJson);
    requireRole(principal, 'admin');
    const connectionId = request.query.get('connection');
    if (!connectionId) return answer(400, 'validation', 'Name the connection to connect: ?connection=<id>.', wantsJson);
    const callback = new URL('/api/connect/callback', request.url).toString();
    const location = await flow.begin({ tenantId: principal.tenantId, connectionId, provider: path, defaultRedirectUri: callback });
    return { status: 302, headers: { location, 'cache-control': 'no-store' } };
  } catch (error) {
    // Never the query string in logs: the callback's carries the code and the state.
    context.warn?.(`Connect ${path === 'callback' ? 'callback' : `start for ${path}`} failed: ${(error as Error).message}`);
    const response = toErrorResponse(error, services.platform.telemetry);
    if (wantsJson || !isSyncBridgeError(error)) return response;
    // The same words as the JSON answer: for a failure on our side (5xx) that is the generic text.
    return html(response.status ?? 500, 'Connecting failed', (response.jsonBody as { error: { message: string } }).error.message);
  }
}

function json(status: number, body: unknown): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'cache-control': 'no-store' } };
}

function answer(status: number, code: string, message: string, wantsJson: boolean): HttpResponseInit {
  return wantsJson ? json(status, { error: { code, message } }) : html(status, 'Connecting failed', message);
}

function html(status: number, title: string, message: string): HttpResponseInit {
  const body = `<!doctype html><meta charset="utf-8"><title>${escapeHtml(title)}</title><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`;
  return {
    status,
    body,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'", 'referrer-policy': 'no-referrer' },
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export const connect: FunctionDefinition = {
  kind: 'http',
  name: 'connect',
  options: { route: 'connect/{*path}', methods: ['GET'], authLevel: 'anonymous', handler: connectHandler },
};
