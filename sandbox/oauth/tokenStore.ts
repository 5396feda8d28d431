import { createHash, randomBytes } from 'node:crypto';
import { Clock, systemClock } from '../../shared/ports/clock';
import { ResolvedOAuthOptions } from './oauthOptions';
import { s256Challenge } from './pkce';

/** RFC 6749 §5.2 error codes the token endpoint answers with. */
export const OAUTH_ERROR_CODES = ['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope'] as const;
export type OAuthErrorCode = (typeof OAUTH_ERROR_CODES)[number];

/** RFC 6749 §5.1 successful token response. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

export type GrantOutcome = { ok: true; tokens: TokenResponse } | { ok: false; error: OAuthErrorCode; description: string };

export type BearerCheck = { ok: true; clientId: string; scopes: string[] } | { ok: false; reason: 'unknown' | 'expired' | 'revoked' };

export interface OAuthStats {
  enabled: boolean;
  /** Access tokens issued by any grant. */
  issued: number;
  /** Successful refresh_token grants. */
  refreshed: number;
  /** Spent (rotated-away) refresh tokens presented again; each one also revoked its family. */
  refreshReuse: number;
  codesIssued: number;
  codesExchanged: number;
  /** Authorization codes presented a second time; each one revoked the tokens the code had produced. */
  codeReuse: number;
  clientCredentials: number;
  /** Token families revoked by reuse detection or by the control API. */
  revokedFamilies: number;
  /** Token endpoint error responses, by RFC 6749 error code. */
  errors: Record<string, number>;
  /** /v1 requests that presented a Bearer token. */
  bearer: { accepted: number; rejected: number };
  active: { accessTokens: number; refreshTokens: number };
}

interface AccessTokenEntry {
  familyId: number;
  clientId: string;
  scopes: string[];
  expiresAtMs: number;
}

interface RefreshTokenEntry {
  familyId: number;
  clientId: string;
  scopes: string[];
  spent: boolean;
}

interface CodeEntry {
  clientId: string;
  redirectUri: string;
  challenge: string;
  scopes: string[];
  expiresAtMs: number;
  /** Set once the code was presented: codes are single-use, even when that first use failed. */
  spent: boolean;
  familyId?: number;
}

/** Past this many, expired entries are swept; the maps otherwise grow with every token issued. */
const SWEEP_THRESHOLD = 10_000;
/** Spent codes are remembered this long after expiry, so reuse is still recognised. */
const SPENT_CODE_MEMORY_MS = 10 * 60_000;
/** Spent refresh tokens remembered for reuse detection, oldest forgotten first. */
const MAX_SPENT_REFRESH_TOKENS = 100_000;

/**
 * Codes and tokens of the sandbox's OAuth server. Tokens are opaque random strings; maps are
 * keyed by their SHA-256, so a lookup's timing says nothing about a guessed token's prefix.
 *
 * Every token belongs to a family: everything one authorization (one code exchange, one client
 * credentials grant) produced along its rotation chain. Reuse detection revokes a family as a
 * whole, as Auth0, Okta and Salesforce do: a spent refresh token showing up again means two
 * parties hold the chain, and the provider cannot tell which one is legitimate.
 */
export class OAuthTokenStore {
  private codes = new Map<string, CodeEntry>();
  private accessTokens = new Map<string, AccessTokenEntry>();
  private refreshTokens = new Map<string, RefreshTokenEntry>();
  private spentRefreshCount = 0;
  private revokedFamilyIds = new Set<number>();
  private nextFamilyId = 1;
  private counters = emptyCounters();
  /**
   * The echo lever (POST /_sandbox/oauth/echo): while it names an error, the token endpoint refuses
   * every request with it, quoting the client's credentials in error_description.
   */
  echoRefusal: OAuthErrorCode | undefined;
  /**
   * The settings lever (POST /_sandbox/oauth/settings): the client secret the token endpoint
   * accepts now (rotating it retires the old one at once), and whether a code exchange issues a
   * refresh token (off: a provider such as Entra ID without offline_access, or a GitHub OAuth app).
   */
  clientSecret: string;
  issueRefreshTokens = true;

  constructor(
    readonly options: ResolvedOAuthOptions,
    private readonly clock: Clock = systemClock,
  ) {
    this.clientSecret = options.clientSecret;
  }

  /** A single-use code bound to the client, redirect URI and PKCE challenge. */
  issueCode(input: { clientId: string; redirectUri: string; challenge: string; scopes: string[] }): string {
    const code = newToken('sbx_code');
    if (this.codes.size >= SWEEP_THRESHOLD) this.sweep();
    this.codes.set(digest(code), { ...input, expiresAtMs: this.nowMs() + this.options.authorizationCodeTtlSeconds * 1000, spent: false });
    this.counters.codesIssued++;
    return code;
  }

  /** authorization_code grant (RFC 6749 §4.1.3) with the PKCE check of RFC 7636 §4.6. */
  exchangeCode(input: { clientId: string; code: string; redirectUri: string; verifier: string }): GrantOutcome {
    const entry = this.codes.get(digest(input.code));
    if (!entry) return invalidGrant('The authorization code is unknown or has expired.');
    if (entry.spent) {
      // RFC 6749 §4.1.2: a code used twice SHOULD revoke the tokens it produced.
      this.counters.codeReuse++;
      if (entry.familyId !== undefined) this.revokeFamily(entry.familyId);
      return invalidGrant('The authorization code was already used; the tokens issued for it are now revoked.');
    }
    entry.spent = true;
    if (this.nowMs() >= entry.expiresAtMs) return invalidGrant('The authorization code has expired.');
    if (entry.clientId !== input.clientId) return invalidGrant('The authorization code was issued to another client.');
    if (entry.redirectUri !== input.redirectUri) return invalidGrant("Parameter 'redirect_uri' does not match the one the code was issued for.");
    if (s256Challenge(input.verifier) !== entry.challenge) return invalidGrant("PKCE verification failed: 'code_verifier' does not match the code_challenge.");
    const familyId = this.newFamily();
    entry.familyId = familyId;
    this.counters.codesExchanged++;
    return { ok: true, tokens: this.issueTokens(familyId, entry.clientId, entry.scopes, this.issueRefreshTokens) };
  }

  /** client_credentials grant (RFC 6749 §4.4): an access token only, as §4.4.3 advises. */
  clientCredentials(clientId: string, scopes: string[]): GrantOutcome {
    this.counters.clientCredentials++;
    return { ok: true, tokens: this.issueTokens(this.newFamily(), clientId, scopes, false) };
  }

  /**
   * refresh_token grant (RFC 6749 §6). With rotation, the presented token is spent and a new one
   * returned; presenting a spent token again is reuse: invalid_grant and the family is revoked.
   */
  refresh(input: { clientId: string; refreshToken: string; scopes?: string[] }): GrantOutcome {
    const entry = this.refreshTokens.get(digest(input.refreshToken));
    if (!entry) return invalidGrant('The refresh token is unknown.');
    if (entry.spent) {
      this.counters.refreshReuse++;
      this.revokeFamily(entry.familyId);
      return invalidGrant('The refresh token was already used (rotation); reuse revoked every token of its authorization.');
    }
    if (this.revokedFamilyIds.has(entry.familyId)) return invalidGrant('The refresh token has been revoked.');
    if (entry.clientId !== input.clientId) return invalidGrant('The refresh token was issued to another client.');
    const scopes = input.scopes ?? entry.scopes;
    const widened = scopes.find((scope) => !entry.scopes.includes(scope));
    if (widened) return { ok: false, error: 'invalid_scope', description: `Scope '${widened}' was not granted to this refresh token.` };
    this.counters.refreshed++;
    if (!this.options.refreshTokenRotation) {
      // Without rotation the refresh token stays valid and, per §5.1, is simply not returned again.
      return { ok: true, tokens: this.issueTokens(entry.familyId, entry.clientId, scopes, false) };
    }
    this.spend(entry);
    return { ok: true, tokens: this.issueTokens(entry.familyId, entry.clientId, scopes, true) };
  }

  /** Checks a Bearer token presented to /v1 (RFC 6750). */
  authenticate(accessToken: string): BearerCheck {
    const entry = this.accessTokens.get(digest(accessToken));
    let check: BearerCheck;
    if (!entry) check = { ok: false, reason: 'unknown' };
    else if (this.revokedFamilyIds.has(entry.familyId)) check = { ok: false, reason: 'revoked' };
    else if (this.nowMs() >= entry.expiresAtMs) check = { ok: false, reason: 'expired' };
    else check = { ok: true, clientId: entry.clientId, scopes: entry.scopes };
    if (check.ok) this.counters.bearer.accepted++;
    else this.counters.bearer.rejected++;
    return check;
  }

  /** The client a live access token belongs to, without counting: used to pick a rate-limit window. */
  clientOf(accessToken: string): string | undefined {
    return this.accessTokens.get(digest(accessToken))?.clientId;
  }

  /** Revokes the family of one refresh token (spent or not), or every family; returns how many were revoked. */
  revoke(target: { refreshToken: string } | { all: true }): number {
    if ('all' in target) {
      const live = new Set<number>();
      for (const entry of this.accessTokens.values()) live.add(entry.familyId);
      for (const entry of this.refreshTokens.values()) live.add(entry.familyId);
      let revoked = 0;
      for (const familyId of live) if (this.revokeFamily(familyId)) revoked++;
      return revoked;
    }
    const entry = this.refreshTokens.get(digest(target.refreshToken));
    return entry && this.revokeFamily(entry.familyId) ? 1 : 0;
  }

  /** Makes one access token, or all of them, expire now; returns how many were live. */
  expire(target: { accessToken: string } | { all: true }): number {
    const now = this.nowMs();
    const entries = 'all' in target ? [...this.accessTokens.values()] : [this.accessTokens.get(digest(target.accessToken))];
    let expired = 0;
    for (const entry of entries) {
      if (entry && entry.expiresAtMs > now) {
        entry.expiresAtMs = now;
        expired++;
      }
    }
    return expired;
  }

  countError(error: OAuthErrorCode): void {
    this.counters.errors[error] = (this.counters.errors[error] ?? 0) + 1;
  }

  stats(): OAuthStats {
    const now = this.nowMs();
    let accessTokens = 0;
    for (const entry of this.accessTokens.values()) if (entry.expiresAtMs > now && !this.revokedFamilyIds.has(entry.familyId)) accessTokens++;
    let refreshTokens = 0;
    for (const entry of this.refreshTokens.values()) if (!entry.spent && !this.revokedFamilyIds.has(entry.familyId)) refreshTokens++;
    return { enabled: true, ...structuredClone(this.counters), active: { accessTokens, refreshTokens } };
  }

  clear(): void {
    this.codes.clear();
    this.accessTokens.clear();
    this.refreshTokens.clear();
    this.revokedFamilyIds.clear();
    this.spentRefreshCount = 0;
    this.counters = emptyCounters();
    this.echoRefusal = undefined;
    this.clientSecret = this.options.clientSecret;
    this.issueRefreshTokens = true;
  }

  private issueTokens(familyId: number, clientId: string, scopes: string[], withRefreshToken: boolean): TokenResponse {
    if (this.accessTokens.size >= SWEEP_THRESHOLD) this.sweep();
    const accessToken = newToken('sbx_at');
    const ttlSeconds = this.options.accessTokenTtlSeconds;
    this.accessTokens.set(digest(accessToken), { familyId, clientId, scopes, expiresAtMs: this.nowMs() + ttlSeconds * 1000 });
    this.counters.issued++;
    const response: TokenResponse = { access_token: accessToken, token_type: 'Bearer', expires_in: ttlSeconds, scope: scopes.join(' ') };
    if (withRefreshToken) {
      const refreshToken = newToken('sbx_rt');
      this.refreshTokens.set(digest(refreshToken), { familyId, clientId, scopes, spent: false });
      response.refresh_token = refreshToken;
    }
    return response;
  }

  private newFamily(): number {
    return this.nextFamilyId++;
  }

  /** Returns whether the family was live until now. */
  private revokeFamily(familyId: number): boolean {
    if (this.revokedFamilyIds.has(familyId)) return false;
    this.revokedFamilyIds.add(familyId);
    this.counters.revokedFamilies++;
    return true;
  }

  private spend(entry: RefreshTokenEntry): void {
    entry.spent = true;
    this.spentRefreshCount++;
    if (this.spentRefreshCount <= MAX_SPENT_REFRESH_TOKENS) return;
    // Maps iterate in insertion order, so the first spent entry is the oldest one.
    for (const [key, candidate] of this.refreshTokens) {
      if (candidate.spent) {
        this.refreshTokens.delete(key);
        this.spentRefreshCount--;
        break;
      }
    }
  }

  /** Forgets expired access tokens and long-expired codes; they then read as unknown, which is still a 401 / invalid_grant. */
  private sweep(): void {
    const now = this.nowMs();
    for (const [key, entry] of this.accessTokens) {
      if (entry.expiresAtMs <= now) {
        this.accessTokens.delete(key);
      }
    }
    for (const [key, entry] of this.codes) if (entry.expiresAtMs + SPENT_CODE_MEMORY_MS <= now) this.codes.delete(key);
  }

  private nowMs(): number {
    return this.clock.now().getTime();
  }
}

function invalidGrant(description: string): GrantOutcome {
  return { ok: false, error: 'invalid_grant', description };
}

function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

function emptyCounters() {
  return {
    issued: 0,
    refreshed: 0,
    refreshReuse: 0,
    codesIssued: 0,
    codesExchanged: 0,
    codeReuse: 0,
    clientCredentials: 0,
    revokedFamilies: 0,
    errors: {} as Record<string, number>,
    bearer: { accepted: 0, rejected: 0 },
  };
}
