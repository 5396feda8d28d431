import type { Clock } from '../../ports/clock';
import type { Connection } from '../model';
import type { LoadedOAuth2 } from './credentialReader';
import { grantOf } from './oauthGrant';

/**
 * What a caller needs of the access token. `staleAccessToken`: the provider refused this one (a
 * 401), so any other token will do. `minValidityMs`: it must stay valid at least this long.
 */
export interface FreshnessNeed {
  staleAccessToken?: string;
  minValidityMs?: number;
}

/** How long before expiry an access token counts as expiring: the margin, at most a quarter of its lifetime. */
export function marginFor(loaded: LoadedOAuth2, refreshMarginMs: number): number {
  return atMostShareOfLifetime(loaded, refreshMarginMs, 4);
}

/**
 * The refresher's window for one token: the configured window, at most half the token's
 * lifetime. A window longer than the lifetime would be unmet right after every refresh, so each
 * tick would spend a refresh token on every such connection, busy or idle.
 */
export function windowFor(loaded: LoadedOAuth2, windowMs: number): number {
  return atMostShareOfLifetime(loaded, windowMs, 2);
}

/** `ms`, at most the token's lifetime (expiry minus the version's creation) divided by `divisor`; `ms` when either time is unknown. */
function atMostShareOfLifetime(loaded: LoadedOAuth2, ms: number, divisor: number): number {
  const expiresAtMs = loaded.credentials.expiresAt ? Date.parse(loaded.credentials.expiresAt) : NaN;
  if (!Number.isFinite(expiresAtMs) || !Number.isFinite(loaded.obtainedAtMs)) return ms;
  return Math.min(ms, Math.max(0, (expiresAtMs - loaded.obtainedAtMs) / divisor));
}

/** Whether the token meets `need`. */
export function satisfies(loaded: LoadedOAuth2, need: FreshnessNeed, clock: Clock): boolean {
  const { accessToken, expiresAt } = loaded.credentials;
  if (need.staleAccessToken !== undefined && accessToken === need.staleAccessToken) return false;
  if (!expiresAt) return true; // the provider gave no lifetime: only a 401 tells
  return Date.parse(expiresAt) - clock.now().getTime() > (need.minValidityMs ?? 0);
}

/** Whether the access token's expiry has passed (a token without one never counts as expired). */
export function hasExpired(loaded: LoadedOAuth2, clock: Clock): boolean {
  const expiresAtMs = loaded.credentials.expiresAt ? Date.parse(loaded.credentials.expiresAt) : NaN;
  return Number.isFinite(expiresAtMs) && expiresAtMs <= clock.now().getTime();
}

/** Whether a grant can renew the credential: not a code grant that came without a refresh token. */
export function renewable(loaded: LoadedOAuth2, connection: Connection): boolean {
  return grantOf(loaded.credentials, connection) === 'client_credentials' || loaded.credentials.refreshToken !== undefined;
}
