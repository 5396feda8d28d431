import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { constantTimeEquals } from '../constantTime';
import { readBodyText, sendJson } from '../httpIo';
import { isWellFormedVerifier } from './pkce';
import { parseScopes } from './scopes';
import { GrantOutcome, OAuthErrorCode, OAuthTokenStore } from './tokenStore';

interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

type ClientAuthentication = { ok: true; client: ClientCredentials } | { ok: false; error: OAuthErrorCode; description: string };

/**
 * POST /oauth/token (RFC 6749 §3.2): form-encoded grants authorization_code (with the PKCE
 * verifier), client_credentials and refresh_token. The client authenticates with HTTP Basic or
 * with client_id and client_secret in the body, never both (§2.3). Answers follow §5.1 and §5.2,
 * with Cache-Control: no-store because they carry credentials.
 */
export async function handleToken(store: OAuthTokenStore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const reply = (status: number, body: unknown, headers: OutgoingHttpHeaders = {}) =>
    sendJson(res, status, body, { 'Cache-Control': 'no-store', Pragma: 'no-cache', ...headers });
  const fail = (error: OAuthErrorCode, description: string) => {
    store.countError(error);
    // §5.2: invalid_client is a 401, and it names the scheme when the client tried HTTP Basic (we always accept it).
    if (error === 'invalid_client') return reply(401, { error, error_description: description }, { 'WWW-Authenticate': 'Basic realm="sandbox", charset="UTF-8"' });
    reply(400, { error, error_description: description });
  };

  if (req.method !== 'POST') {
    store.countError('invalid_request');
    return reply(405, { error: 'invalid_request', error_description: `Method ${req.method} is not allowed on /oauth/token; use POST.` }, { Allow: 'POST' });
  }
  const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (contentType !== 'application/x-www-form-urlencoded') {
    return fail('invalid_request', `The token request must be application/x-www-form-urlencoded; got '${contentType || 'no Content-Type'}'.`);
  }
  const params = new URLSearchParams(await readBodyText(req));
  // Refused before anything is looked up: nothing is spent, and no reuse is counted.
  if (store.echoRefusal) return fail(store.echoRefusal, echoOfCredentials(req.headers.authorization, params));
  const repeated = [...new Set(params.keys())].find((name) => params.getAll(name).length > 1);
  if (repeated) return fail('invalid_request', `Parameter '${repeated}' must not be repeated.`);

  const authentication = authenticateClient(store, req.headers.authorization, params);
  if (!authentication.ok) return fail(authentication.error, authentication.description);
  const clientId = authentication.client.clientId;

  const grantType = params.get('grant_type');
  let outcome: GrantOutcome;
  switch (grantType) {
    case null:
      return fail('invalid_request', "Parameter 'grant_type' is required.");
    case 'authorization_code': {
      const missing = ['code', 'redirect_uri', 'code_verifier'].find((name) => !params.get(name));
      if (missing) return fail('invalid_request', `Parameter '${missing}' is required for the authorization_code grant.`);
      const verifier = params.get('code_verifier')!;
      if (!isWellFormedVerifier(verifier)) return fail('invalid_request', "Parameter 'code_verifier' must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~'.");
      outcome = store.exchangeCode({ clientId, code: params.get('code')!, redirectUri: params.get('redirect_uri')!, verifier });
      break;
    }
    case 'client_credentials': {
      const scopes = parseScopes(params.get('scope'), store.options.scopes, store.options.scopes);
      if (!scopes.ok) return fail('invalid_scope', scopes.description);
      outcome = store.clientCredentials(clientId, scopes.scopes);
      break;
    }
    case 'refresh_token': {
      const refreshToken = params.get('refresh_token');
      if (!refreshToken) return fail('invalid_request', "Parameter 'refresh_token' is required for the refresh_token grant.");
      const rawScope = params.get('scope');
      const scopes = rawScope === null ? undefined : parseScopes(rawScope, store.options.scopes, []);
      if (scopes && !scopes.ok) return fail('invalid_scope', scopes.description);
      outcome = store.refresh({ clientId, refreshToken, scopes: scopes?.scopes });
      break;
    }
    default:
      return fail('unsupported_grant_type', `Grant type '${grantType}' is not supported; use authorization_code, client_credentials or refresh_token.`);
  }
  if (!outcome.ok) return fail(outcome.error, outcome.description);
  reply(200, outcome.tokens);
}

function authenticateClient(store: OAuthTokenStore, authorization: string | undefined, params: URLSearchParams): ClientAuthentication {
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  let client: ClientCredentials;
  if (authorization !== undefined) {
    const basic = parseBasic(authorization);
    if (!basic) return { ok: false, error: 'invalid_client', description: 'The Authorization header must be HTTP Basic with the form-encoded client_id and client_secret.' };
    if (bodySecret !== null) return { ok: false, error: 'invalid_request', description: 'Use one client authentication method: HTTP Basic or client_secret in the body, not both.' };
    if (bodyId !== null && bodyId !== basic.clientId) return { ok: false, error: 'invalid_request', description: "Parameter 'client_id' differs from the client in the Authorization header." };
    client = basic;
  } else {
    if (!bodyId) return { ok: false, error: 'invalid_client', description: 'Client authentication is required: HTTP Basic, or client_id and client_secret in the body.' };
    if (!bodySecret) return { ok: false, error: 'invalid_client', description: "Parameter 'client_secret' is required: this client is confidential." };
    client = { clientId: bodyId, clientSecret: bodySecret };
  }
  // Both compared every time, so timing does not tell a wrong id from a wrong secret.
  const idMatches = constantTimeEquals(client.clientId, store.options.clientId);
  const secretMatches = constantTimeEquals(client.clientSecret, store.clientSecret);
  if (!idMatches || !secretMatches) return { ok: false, error: 'invalid_client', description: 'Client authentication failed: unknown client or wrong secret.' };
  return { ok: true, client };
}

/**
 * What a provider with a verbose error page quotes back (the echo lever): the client secret, the
 * form parameters (refresh token, code, verifier) and the Authorization header, secrets first.
 */
function echoOfCredentials(authorization: string | undefined, params: URLSearchParams): string {
  const secret = (authorization === undefined ? undefined : parseBasic(authorization)?.clientSecret) ?? params.get('client_secret') ?? '(none)';
  return `Refused by the echo lever. client_secret=${secret}; ${params.toString()}; Authorization: ${authorization ?? '(none)'}`;
}

/** RFC 6749 §2.3.1: both halves are form-urlencoded before they are joined and base64-encoded. */
function parseBasic(header: string): ClientCredentials | undefined {
  const match = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header.trim());
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    const formDecode = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '));
    return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}
