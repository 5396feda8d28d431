import type { IncomingMessage, ServerResponse } from 'node:http';
import { SyncBridgeError } from '../../shared/core/errors';
import { readJsonObject, sendJson } from '../httpIo';
import { OAUTH_ERROR_CODES, OAuthErrorCode, OAuthTokenStore } from './tokenStore';

/**
 * /_sandbox/oauth: counters (GET), and three levers for tests: revoke a refresh token's family or
 * every family (the next refresh is invalid_grant, the family's access tokens stop working),
 * expire access tokens now (the next /v1 call is a 401 invalid_token) without waiting for the TTL,
 * and echo: refuse every token request with a given error whose description quotes the client's
 * credentials, as a provider with a verbose error page would (for testing that clients mask it).
 * And settings: rotate the client secret, stop issuing refresh tokens on the code exchange.
 */
export async function handleOAuthControl(store: OAuthTokenStore | undefined, req: IncomingMessage, res: ServerResponse, url: URL, rest: string[]): Promise<void> {
  const action = `${req.method ?? 'GET'} ${rest.join('/')}`;
  if (action === 'GET ') return sendJson(res, 200, store ? store.stats() : { enabled: false });
  if (action !== 'POST revoke' && action !== 'POST expire' && action !== 'POST echo' && action !== 'POST settings') throw new SyncBridgeError('not_found', `No control endpoint ${req.method} ${url.pathname}; see docs/sandbox.md.`);
  if (!store) throw new SyncBridgeError('not_found', 'OAuth is not enabled on this sandbox; start it with the oauth option.');
  const body = await readJsonObject(req);
  if (action === 'POST echo') return sendJson(res, 200, { refuseWith: configureEcho(store, body) ?? null });
  if (action === 'POST settings') return sendJson(res, 200, configureSettings(store, body));
  const field = action === 'POST revoke' ? 'refreshToken' : 'accessToken';
  const unknown = Object.keys(body).find((name) => name !== field && name !== 'all');
  if (unknown) throw new SyncBridgeError('validation', `Unknown field '${unknown}'; send { "${field}": "..." } or { "all": true }.`);
  let target: { all: true } | { token: string };
  if (body.all === true && body[field] === undefined) target = { all: true };
  else if (typeof body[field] === 'string' && body[field] !== '' && body.all === undefined) target = { token: body[field] as string };
  else throw new SyncBridgeError('validation', `Send either { "${field}": "<token>" } or { "all": true }.`);
  if (action === 'POST revoke') {
    return sendJson(res, 200, { revokedFamilies: store.revoke('all' in target ? target : { refreshToken: target.token }) });
  }
  sendJson(res, 200, { expiredAccessTokens: store.expire('all' in target ? target : { accessToken: target.token }) });
}

/** `{ "clientSecret"?: "<new secret>", "issueRefreshTokens"?: boolean }`; answers the settings now, without the secret. */
function configureSettings(store: OAuthTokenStore, body: Record<string, unknown>): { issueRefreshTokens: boolean; clientSecretRotated: boolean } {
  const unknown = Object.keys(body).find((name) => name !== 'clientSecret' && name !== 'issueRefreshTokens');
  const { clientSecret, issueRefreshTokens } = body;
  if (unknown !== undefined || (clientSecret !== undefined && (typeof clientSecret !== 'string' || clientSecret === '')) || (issueRefreshTokens !== undefined && typeof issueRefreshTokens !== 'boolean')) {
    throw new SyncBridgeError('validation', 'Send { "clientSecret"?: "<non-empty string>", "issueRefreshTokens"?: true | false }.');
  }
  if (typeof clientSecret === 'string') store.clientSecret = clientSecret;
  if (typeof issueRefreshTokens === 'boolean') store.issueRefreshTokens = issueRefreshTokens;
  return { issueRefreshTokens: store.issueRefreshTokens, clientSecretRotated: store.clientSecret !== store.options.clientSecret };
}

/** `{ "refuseWith": "<RFC 6749 error>" }` turns the echo on, `{ "refuseWith": null }` off. */
function configureEcho(store: OAuthTokenStore, body: Record<string, unknown>): OAuthErrorCode | undefined {
  const unknown = Object.keys(body).find((name) => name !== 'refuseWith');
  const value = body.refuseWith;
  if (unknown !== undefined || !(value === null || (OAUTH_ERROR_CODES as readonly unknown[]).includes(value))) {
    throw new SyncBridgeError('validation', `Send { "refuseWith": one of ${OAUTH_ERROR_CODES.join(', ')} } or { "refuseWith": null }.`);
  }
  store.echoRefusal = value === null ? undefined : (value as OAuthErrorCode);
  return store.echoRefusal;
}
