import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../httpIo';
import { handleAuthorize } from './authorizeEndpoint';
import { handleToken } from './tokenEndpoint';
import { OAuthTokenStore } from './tokenStore';

/** Where the OAuth server lives; /.well-known/oauth-authorization-server (RFC 8414) describes it. */
export const OAUTH_PATHS = { authorize: '/oauth/authorize', token: '/oauth/token', metadata: '/.well-known/oauth-authorization-server' } as const;

export function isOAuthPath(pathname: string): boolean {
  return pathname.startsWith('/oauth/') || pathname === OAUTH_PATHS.metadata;
}

/**
 * The OAuth server: authorize, token and metadata endpoints. Not rate-limited or faulted, so a
 * token refresh fails only for OAuth reasons; when the sandbox runs without the `oauth` option,
 * these paths answer 404.
 */
export async function handleOAuthRequest(store: OAuthTokenStore | undefined, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (!store) {
    return sendJson(res, 404, { error: 'OAuth is not enabled on this sandbox; start it with the oauth option (or SANDBOX_OAUTH_CLIENT_ID and SANDBOX_OAUTH_CLIENT_SECRET).' });
  }
  switch (url.pathname) {
    case OAUTH_PATHS.authorize:
      return handleAuthorize(store, req.method ?? 'GET', url.searchParams, res);
    case OAUTH_PATHS.token:
      return handleToken(store, req, res);
    case OAUTH_PATHS.metadata:
      return sendJson(res, 200, metadata(store, req));
    default:
      return sendJson(res, 404, { error: `No OAuth endpoint ${url.pathname}; use ${OAUTH_PATHS.authorize} or ${OAUTH_PATHS.token}.` });
  }
}

function metadata(store: OAuthTokenStore, req: IncomingMessage) {
  const issuer = `http://${req.headers.host ?? '127.0.0.1'}`;
  return {
    issuer,
    authorization_endpoint: `${issuer}${OAUTH_PATHS.authorize}`,
    token_endpoint: `${issuer}${OAUTH_PATHS.token}`,
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    scopes_supported: store.options.scopes,
  };
}
