import type { Dispatcher } from 'undici-types';
import { describeRefusal, destinationRefusalIn, guardedDispatcher } from '../../http/destinationGuard';
import { providerDestinationPolicy, remedyFor, type DestinationPolicy } from '../../http/destinationPolicy';
import { parseRetryAfter } from '../../http/rateLimit';
import { SyncBridgeError } from '../errors';
import { credentialValuesOfHeaders, maskProviderText } from '../masking';
import { oauthUrlProblem } from './oauthUrl';

/** What a token endpoint answered (RFC 6749 §5.1), reduced to what we keep. */
export interface TokenResponse {
  accessToken: string;
  /** Present when the provider issued (or rotated) a refresh token. */
  refreshToken?: string;
  /** Lifetime of the access token in seconds, when the provider says. */
  expiresInSeconds?: number;
  scope?: string;
}

/**
 * A 200 to a refresh that gives no usable access token (none, or not a Bearer one) but carries a
 * refresh token. The provider may have rotated already, the token we sent being spent: the new one
 * must be kept although the call failed (CredentialService stores it, then fails with `unusable`).
 */
export interface UnusableRefreshAnswer {
  refreshToken: string;
  /** Why the answer cannot be used; what the refresh fails with once the refresh token is stored. */
  unusable: SyncBridgeError;
}

export function isUnusableRefreshAnswer(answer: TokenResponse | UnusableRefreshAnswer): answer is UnusableRefreshAnswer {
  return 'unusable' in answer;
}

export interface OAuthClientIdentity {
  tokenUrl: string;
  clientId: string;
  clientSecret?: string;
}

export interface OAuthClientOptions {
  /** Budget for one token request, including the body. Default 10,000 ms: well below the refresh lease. */
  timeoutMs?: number;
  /** Which addresses the token URL may reach (destinationPolicy.ts). Default: the process's, set by the platform composition. */
  destinationPolicy?: DestinationPolicy;
}

/**
 * The token endpoint refused the grant (RFC 6749 §5.2): `oauthError` is the provider's error code
 * (`invalid_grant`, `invalid_client`, …). `invalid_grant` means the refresh token or code is dead
 * for good: retrying cannot help, a person has to reauthorize.
 */
export class OAuthGrantError extends SyncBridgeError {
  constructor(readonly oauthError: string, message: string, status: number) {
    super('auth_failed', message, { status });
  }
}

export function isInvalidGrant(error: unknown): error is OAuthGrantError {
  return error instanceof OAuthGrantError && error.oauthError === 'invalid_grant';
}

/**
 * A small OAuth 2 client for token endpoints (RFC 6749 §4.1.3, §4.4, §6): form-encoded bodies,
 * client authentication by HTTP Basic with form-encoded id and secret (§2.3.1). One attempt per
 * call; no retries here (the callers decide, and a refresh must never be sent twice blindly).
 * Error messages never contain the tokens, the code, the verifier or the secret, not even where
 * the token endpoint's error text quotes them back.
 */
export class OAuthClient {
  private readonly timeoutMs: number;
  private readonly dispatcher: Dispatcher;

  constructor(options: OAuthClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.dispatcher = guardedDispatcher(options.destinationPolicy ?? providerDestinationPolicy());
    if (!(this.timeoutMs > 0)) throw new SyncBridgeError('configuration', 'timeoutMs must be a positive number of milliseconds.');
  }

  exchangeCode(client: OAuthClientIdentity, grant: { code: string; redirectUri: string; codeVerifier: string }): Promise<TokenResponse> {
    return usableOrThrow(this.request(client, { grant_type: 'authorization_code', code: grant.code, redirect_uri: grant.redirectUri, code_verifier: grant.codeVerifier }));
  }

  /** The new tokens, or (a 200 without a usable access token) the refresh token it carried, for the caller to keep. */
  refresh(client: OAuthClientIdentity, refreshToken: string, scope?: string): Promise<TokenResponse | UnusableRefreshAnswer> {
    return this.request(client, { grant_type: 'refresh_token', refresh_token: refreshToken, ...(scope ? { scope } : {}) });
  }

  clientCredentials(client: OAuthClientIdentity, scope?: string): Promise<TokenResponse> {
    return usableOrThrow(this.request(client, { grant_type: 'client_credentials', ...(scope ? { scope } : {}) }));
  }

  private async request(client: OAuthClientIdentity, params: Record<string, string>): Promise<TokenResponse | UnusableRefreshAnswer> {
    const grant = params.grant_type;
    const url = parseTokenUrl(client.tokenUrl);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    const body = new URLSearchParams(params);
    if (client.clientSecret !== undefined) {
      // RFC 6749 §2.3.1: id and secret are form-encoded before they are joined and base64-encoded.
      const basic = Buffer.from(`${formEncode(client.clientId)}:${formEncode(client.clientSecret)}`).toString('base64');
      headers.authorization = `Basic ${basic}`;
    } else {
      body.set('client_id', client.clientId); // a public client identifies itself in the body
    }
    let response: Response;
    let text: string;
    try {
      // The dispatcher checks the address fetch connects to (destinationGuard.ts); a redirect is
      // never followed, so the form (secret, code, refresh token) goes to the token URL only.
      response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error', dispatcher: this.dispatcher });
      text = await response.text();
    } catch (cause) {
      const refusal = destinationRefusalIn(cause);
      if (refusal) throw new SyncBridgeError('configuration', `The ${grant} request was not sent: the OAuth token URL (config.oauth.tokenUrl) points at ${describeRefusal(refusal)}, which SyncBridge refuses to call; ${remedyFor(refusal.range)}.`, { cause });
      // By name, not instanceof: the abort reason is a DOMException, which may come from another realm.
      const name = (cause as { name?: unknown } | null)?.name;
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      throw new SyncBridgeError('transient', timedOut ? `The token endpoint ${url.host} did not answer the ${grant} grant within ${this.timeoutMs} ms.` : `The ${grant} request to ${url.host} failed before an answer.`, { cause });
    }
    const parsed = parseJsonObject(text);
    if (response.status >= 500) throw new SyncBridgeError('transient', `The token endpoint ${url.host} failed the ${grant} grant with HTTP ${response.status}.`, { status: response.status });
    // Throttled or timed out at the endpoint: nothing was granted or refused, so the grant is tried
    // again later (a retried step, the next timer tick), never counted as an auth failure.
    if (response.status === 429) {
      throw new SyncBridgeError('rate_limited', `The token endpoint ${url.host} throttled the ${grant} grant (HTTP 429).`, { status: 429, retryAt: parseRetryAfter(response.headers, new Date()) });
    }
    if (response.status === 408) throw new SyncBridgeError('transient', `The token endpoint ${url.host} timed out the ${grant} grant (HTTP 408).`, { status: 408 });
    if (!response.ok) {
      // Both are the provider's text, and a provider may quote the request in them, so the
      // credentials this request sent are masked in both. A standard code has nothing to mask.
      const sent = sentCredentials(client, params, headers);
      const code = typeof parsed?.error === 'string' ? maskProviderText(parsed.error, sent, 100) : 'invalid_response';
      const description = typeof parsed?.error_description === 'string' ? `: ${maskProviderText(parsed.error_description, sent, 200)}` : '';
      throw new OAuthGrantError(code, `The token endpoint ${url.host} refused the ${grant} grant with ${code} (HTTP ${response.status})${description}.`, response.status);
    }
    const refreshToken = typeof parsed?.refresh_token === 'string' && parsed.refresh_token !== '' ? parsed.refresh_token : undefined;
    const accessToken = parsed?.access_token;
    const tokenType = parsed?.token_type;
    let unusable: SyncBridgeError | undefined;
    if (typeof accessToken !== 'string' || accessToken === '') {
      unusable = new SyncBridgeError('transient', `The token endpoint ${url.host} answered the ${grant} grant without an access_token.`, { status: response.status });
    } else if (typeof tokenType === 'string' && tokenType.toLowerCase() !== 'bearer') {
      // The provider's text, quoted: masked like an error's (a token type is never a credential, but nothing stops a provider sending one there).
      const shown = maskProviderText(tokenType, sentCredentials(client, params, headers), 40);
      unusable = new SyncBridgeError('provider_rejected', `The token endpoint ${url.host} issued a ${shown} token; only Bearer tokens are supported.`);
    }
    if (unusable) {
      // A refresh answer may still carry a rotated refresh token, the only valid one now: hand it back.
      if (grant === 'refresh_token' && refreshToken !== undefined) return { refreshToken, unusable };
      throw unusable;
    }
    const expiresIn = parsed?.expires_in;
    return {
      accessToken: accessToken as string,
      refreshToken,
      expiresInSeconds: typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn : typeof expiresIn === 'string' && Number(expiresIn) > 0 ? Number(expiresIn) : undefined,
      scope: typeof parsed?.scope === 'string' ? parsed.scope : undefined,
    };
  }
}

/** For the grants whose caller has no use for a refresh token from an unusable answer. */
async function usableOrThrow(answer: Promise<TokenResponse | UnusableRefreshAnswer>): Promise<TokenResponse> {
  const settled = await answer;
  if (isUnusableRefreshAnswer(settled)) throw settled.unusable;
  return settled;
}

/** What a token request sends that is secret: the client secret, the grant's token, code or verifier, the Basic header. */
function sentCredentials(client: OAuthClientIdentity, params: Record<string, string>, headers: Record<string, string>): string[] {
  const values = [client.clientSecret, params.refresh_token, params.code, params.code_verifier, ...credentialValuesOfHeaders(headers)];
  return values.filter((value): value is string => typeof value === 'string' && value !== '');
}

/** Checked at every request too: a credential stored before the https rule may still hold an http URL. */
function parseTokenUrl(tokenUrl: string): URL {
  const problem = oauthUrlProblem(tokenUrl);
  if (problem) throw new SyncBridgeError('configuration', `The OAuth token URL (tokenUrl) "${tokenUrl}" ${problem}; nothing was sent.`);
  return new URL(tokenUrl);
}

/** application/x-www-form-urlencoded of one value (spaces as +), as RFC 6749 Appendix B asks. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
