import { SyncBridgeError } from '../../shared/core/errors';

/**
 * OAuth 2 on the sandbox: one confidential client, auto-approved authorization codes with PKCE,
 * client credentials, and expiring access tokens with rotating refresh tokens.
 */
export interface SandboxOAuthOptions {
  clientId: string;
  clientSecret: string;
  /** Lifetime of an access token; default 3600. Tests use a few seconds. */
  accessTokenTtlSeconds?: number;
  /** Each refresh returns a new refresh token and spends the old one; default true. */
  refreshTokenRotation?: boolean;
  /** Exact redirect URIs the authorize endpoint accepts; default: any absolute http(s) URI. */
  redirectUris?: string[];
  /** Lifetime of an authorization code; default 60 (RFC 6749 §4.1.2 recommends at most 10 minutes). */
  authorizationCodeTtlSeconds?: number;
  /** Scopes the client may ask for; default ['read', 'write']. Writes on /v1 need 'write'. */
  scopes?: string[];
}

export interface ResolvedOAuthOptions {
  clientId: string;
  clientSecret: string;
  accessTokenTtlSeconds: number;
  refreshTokenRotation: boolean;
  redirectUris?: string[];
  authorizationCodeTtlSeconds: number;
  scopes: string[];
}

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Fills in defaults and rejects bad OAuth options with a message naming the option. */
export function resolveOAuthOptions(options: SandboxOAuthOptions): ResolvedOAuthOptions {
  if (typeof options !== 'object' || options === null) fail('oauth', 'must be an object');
  const resolved: ResolvedOAuthOptions = {
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3600,
    refreshTokenRotation: options.refreshTokenRotation ?? true,
    authorizationCodeTtlSeconds: options.authorizationCodeTtlSeconds ?? 60,
    scopes: options.scopes ?? ['read', 'write'],
  };
  if (typeof resolved.clientId !== 'string' || !/^[\x20-\x7e]+$/.test(resolved.clientId) || resolved.clientId.includes(':')) {
    fail('oauth.clientId', 'must be a non-empty string of printable ASCII without a colon (it travels in HTTP Basic)');
  }
  if (typeof resolved.clientSecret !== 'string' || resolved.clientSecret === '') fail('oauth.clientSecret', 'must be a non-empty string');
  requireInteger('oauth.accessTokenTtlSeconds', resolved.accessTokenTtlSeconds, 1, 30 * 86_400);
  requireInteger('oauth.authorizationCodeTtlSeconds', resolved.authorizationCodeTtlSeconds, 1, 600);
  if (typeof resolved.refreshTokenRotation !== 'boolean') fail('oauth.refreshTokenRotation', 'must be true or false');
  if (!Array.isArray(resolved.scopes) || resolved.scopes.length === 0 || !resolved.scopes.every((scope) => typeof scope === 'string' && SCOPE_TOKEN.test(scope))) {
    fail('oauth.scopes', 'must be a non-empty array of RFC 6749 scope tokens');
  }
  if (options.redirectUris !== undefined) {
    if (!Array.isArray(options.redirectUris) || options.redirectUris.length === 0) fail('oauth.redirectUris', 'must be a non-empty array of URIs');
    for (const uri of options.redirectUris) {
      if (typeof uri !== 'string' || !isAcceptableRedirectUri(uri)) fail('oauth.redirectUris', `holds ${JSON.stringify(uri)}, which is not an absolute http(s) URI without a fragment`);
    }
    resolved.redirectUris = [...options.redirectUris];
  }
  return { ...resolved, scopes: [...resolved.scopes] };
}

/** RFC 6749 §3.1.2: an absolute URI that must not include a fragment. */
export function isAcceptableRedirectUri(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !value.includes('#');
  } catch {
    return false;
  }
}

function requireInteger(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(name, `must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`);
  }
}

function fail(name: string, problem: string): never {
  throw new SyncBridgeError('configuration', `Sandbox option '${name}' ${problem}.`);
}
