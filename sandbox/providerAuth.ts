import type { IncomingMessage } from 'node:http';
import { constantTimeEquals } from './constantTime';
import { ProviderResult } from './providerResult';
import { SandboxState } from './sandboxState';

/** Who a /v1 request acts for: the API key holder (every scope), or an OAuth client with its token's scopes. */
export type ProviderPrincipal = { kind: 'apiKey' } | { kind: 'bearer'; clientId: string; scopes: string[] };

export type ProviderAuthentication = { ok: true; principal: ProviderPrincipal } | { ok: false; result: ProviderResult };

/**
 * /v1 takes either credential. X-Api-Key wins when both are sent; otherwise an Authorization
 * header must be a Bearer access token from /oauth/token (RFC 6750), and a bad one answers 401
 * with `WWW-Authenticate: Bearer error="invalid_token"` so that a client knows to refresh.
 */
export function authenticateProviderRequest(state: SandboxState, req: IncomingMessage): ProviderAuthentication {
  const apiKey = headerValue(req, 'x-api-key');
  if (apiKey !== undefined) {
    if (constantTimeEquals(apiKey, state.options.apiKey)) return { ok: true, principal: { kind: 'apiKey' } };
    return unauthorized('The X-Api-Key header does not hold a valid API key.');
  }
  const authorization = headerValue(req, 'authorization');
  if (authorization === undefined) {
    return unauthorized(`Missing credentials: send X-Api-Key${state.oauth ? ', or Authorization: Bearer <access token>' : ''}.`, state.oauth ? 'Bearer realm="sandbox"' : undefined);
  }
  const token = bearerToken(authorization);
  if (token === undefined) return unauthorized('The Authorization header must be "Bearer <access token>".', 'Bearer realm="sandbox"');
  const check = state.oauth?.authenticate(token);
  if (check?.ok) return { ok: true, principal: { kind: 'bearer', clientId: check.clientId, scopes: check.scopes } };
  const problem = !check ? 'OAuth is not enabled on this sandbox' : check.reason === 'expired' ? 'The access token expired' : check.reason === 'revoked' ? 'The access token was revoked' : 'The access token is unknown';
  return unauthorized(`${problem}.`, `Bearer realm="sandbox", error="invalid_token", error_description="${problem}"`);
}

/** Writes need the 'write' scope; the API key holds every scope. */
export function forbidsWrites(principal: ProviderPrincipal): ProviderResult | undefined {
  if (principal.kind === 'apiKey' || principal.scopes.includes('write')) return undefined;
  return {
    status: 403,
    body: { error: "The access token lacks the 'write' scope that writes need." },
    headers: { 'WWW-Authenticate': 'Bearer realm="sandbox", error="insufficient_scope", scope="write"' },
  };
}

/**
 * The key a request's rate-limit window is charged to, before authentication: the presented API
 * key, or the OAuth client of a known token (so that refreshing does not open a fresh budget).
 */
export function rateLimitKey(state: SandboxState, req: IncomingMessage): string {
  const apiKey = headerValue(req, 'x-api-key');
  if (apiKey !== undefined) return apiKey;
  const authorization = headerValue(req, 'authorization');
  const token = authorization === undefined ? undefined : bearerToken(authorization);
  if (token === undefined) return '';
  const clientId = state.oauth?.clientOf(token);
  return clientId === undefined ? 'bearer:unknown' : `oauth-client:${clientId}`;
}

function bearerToken(authorization: string): string | undefined {
  return /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization)?.[1];
}

function unauthorized(message: string, challenge?: string): ProviderAuthentication {
  return { ok: false, result: { status: 401, body: { error: message }, headers: challenge ? { 'WWW-Authenticate': challenge } : {} } };
}

export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
