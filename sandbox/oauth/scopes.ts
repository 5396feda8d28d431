import { SCOPE_TOKEN } from './oauthOptions';

export type ScopeParse = { ok: true; scopes: string[] } | { ok: false; description: string };

/**
 * Reads a space-delimited `scope` parameter (RFC 6749 §3.3). Absent means `fallback` (all the
 * client may have, or what the refresh token already holds); every token must be in `allowed`.
 */
export function parseScopes(raw: string | null, allowed: readonly string[], fallback: readonly string[]): ScopeParse {
  if (raw === null) return { ok: true, scopes: [...fallback] };
  const requested = raw.split(' ').filter((token) => token !== '');
  if (requested.length === 0) return { ok: false, description: "Parameter 'scope' is empty; leave it out to get the default scopes." };
  for (const token of requested) {
    if (!SCOPE_TOKEN.test(token)) return { ok: false, description: `Scope '${token}' is not a valid scope token.` };
    if (!allowed.includes(token)) return { ok: false, description: `Scope '${token}' is not one of: ${allowed.join(', ')}.` };
  }
  return { ok: true, scopes: [...new Set(requested)] };
}
