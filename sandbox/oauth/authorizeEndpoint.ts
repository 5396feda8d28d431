import type { ServerResponse } from 'node:http';
import { sendJson } from '../httpIo';
import { isAcceptableRedirectUri } from './oauthOptions';
import { isWellFormedS256Challenge } from './pkce';
import { parseScopes } from './scopes';
import { OAuthTokenStore } from './tokenStore';
import { constantTimeEquals } from '../constantTime';

const AUTHORIZE_PARAMETERS = ['response_type', 'client_id', 'redirect_uri', 'state', 'code_challenge', 'code_challenge_method', 'scope'];

/**
 * GET /oauth/authorize (RFC 6749 §4.1.1 with PKCE, RFC 7636 §4.3). There is no user to ask: a
 * valid request is approved at once with a 302 to the redirect URI carrying `code` and `state`.
 *
 * Per §4.1.2.1, problems with client_id or redirect_uri are never redirected (the redirect target
 * is not trusted yet) and answer 400 JSON; every other problem redirects back with `error`,
 * `error_description` and `state`. The sandbox is stricter than the RFC minimum in three ways,
 * as OAuth 2.1 and careful providers are: redirect_uri, state and an S256 code_challenge are required.
 */
export function handleAuthorize(store: OAuthTokenStore, method: string, params: URLSearchParams, res: ServerResponse): void {
  if (method !== 'GET') {
    return sendJson(res, 405, { error: 'invalid_request', error_description: `Method ${method} is not allowed on /oauth/authorize; use GET.` }, { Allow: 'GET' });
  }
  const repeated = AUTHORIZE_PARAMETERS.find((name) => params.getAll(name).length > 1);
  const clientId = params.get('client_id');
  const redirectUri = params.get('redirect_uri');
  // §3.1: a repeated parameter makes the request invalid; before the redirect URI is trusted it cannot be redirected.
  if (repeated === 'client_id' || repeated === 'redirect_uri') return badRequest(res, `Parameter '${repeated}' must not be repeated.`);
  if (clientId === null || clientId === '') return badRequest(res, "Parameter 'client_id' is required.");
  if (!constantTimeEquals(clientId, store.options.clientId)) return badRequest(res, `Parameter 'client_id' names no client of this provider: '${clientId}'.`);
  if (redirectUri === null || redirectUri === '') return badRequest(res, "Parameter 'redirect_uri' is required.");
  const registered = store.options.redirectUris;
  if (registered ? !registered.includes(redirectUri) : !isAcceptableRedirectUri(redirectUri)) {
    return badRequest(res, registered ? `Parameter 'redirect_uri' is not registered for this client: '${redirectUri}'.` : `Parameter 'redirect_uri' must be an absolute http(s) URI without a fragment; got '${redirectUri}'.`);
  }

  const state = params.get('state');
  const back = (query: Record<string, string>) => redirect(res, redirectUri, state === null || repeated === 'state' ? query : { ...query, state });
  const fail = (error: string, description: string) => back({ error, error_description: description });
  if (repeated) return fail('invalid_request', `Parameter '${repeated}' must not be repeated.`);
  const responseType = params.get('response_type');
  if (responseType === null) return fail('invalid_request', "Parameter 'response_type' is required.");
  if (responseType !== 'code') return fail('unsupported_response_type', `Response type '${responseType}' is not supported; use 'code'.`);
  if (state === null || state === '') return fail('invalid_request', "Parameter 'state' is required, to protect the client against cross-site request forgery.");
  const challenge = params.get('code_challenge');
  if (challenge === null) return fail('invalid_request', "Parameter 'code_challenge' is required: this provider enforces PKCE.");
  const challengeMethod = params.get('code_challenge_method');
  if (challengeMethod !== 'S256') return fail('invalid_request', `Parameter 'code_challenge_method' must be 'S256'; got ${challengeMethod === null ? 'nothing (which means plain)' : `'${challengeMethod}'`}.`);
  if (!isWellFormedS256Challenge(challenge)) return fail('invalid_request', "Parameter 'code_challenge' must be the 43-character base64url SHA-256 of the code verifier.");
  const scopes = parseScopes(params.get('scope'), store.options.scopes, store.options.scopes);
  if (!scopes.ok) return fail('invalid_scope', scopes.description);

  const code = store.issueCode({ clientId, redirectUri, challenge, scopes: scopes.scopes });
  back({ code });
}

function badRequest(res: ServerResponse, description: string): void {
  sendJson(res, 400, { error: 'invalid_request', error_description: description }, { 'Cache-Control': 'no-store' });
}

/** Adds the parameters to the redirect URI's own query, which §3.1.2 says must be kept. */
function redirect(res: ServerResponse, redirectUri: string, query: Record<string, string>): void {
  const target = new URL(redirectUri);
  for (const [name, value] of Object.entries(query)) target.searchParams.set(name, value);
  res.writeHead(302, { Location: target.toString(), 'Cache-Control': 'no-store', 'Content-Length': 0 });
  res.end();
}
