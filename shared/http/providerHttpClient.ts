import { SyncBridgeError } from '../core/errors';
import { credentialValuesOfHeaders, maskProviderText } from '../core/masking';
import type { RequestAuthorizer } from '../adapters/adapter';
import type { Clock } from '../ports/clock';
import type { Telemetry } from '../ports/telemetry';
import type { CallOutcome, ConnectionLimits } from './connectionLimits';
import type { Dispatcher } from 'undici-types';
import { describeRefusal, destinationRefusalIn, guardedDispatcher } from './destinationGuard';
import { providerDestinationPolicy, remedyFor, type DestinationPolicy } from './destinationPolicy';
import { DEFAULT_MAX_RETRY_WAIT_MS, parseRateLimit, parseRetryAfter, type RateLimitInfo } from './rateLimit';
import { discardBody, readLimitedText } from './readBody';

/** Default `maxResponseBytes`: 32 MiB, far above a page of any provider we know. */
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
/** How much of a 4xx/5xx body is read: enough for the provider's reason, never a whole error page dump. */
const ERROR_BODY_BYTES = 64 * 1024;

export interface ProviderHttpClientOptions {
  baseUrl: string;
  /** Sent with every request (static auth headers go here; they are never logged). */
  headers?: Record<string, string>;
  /** Adds auth headers per request and may refresh credentials once after a 401. */
  authorizer?: RequestAuthorizer;
  /** Whole-request budget including reading the body. Default 30,000 ms. */
  timeoutMs?: number;
  /** Largest successful body read; a longer one fails the call as `configuration`. Default 32 MiB. */
  maxResponseBytes?: number;
  /** Longest wait a Retry-After or rate-limit reset may set (a longer one waits this). Default 3,600,000 ms (1 h). */
  maxRetryWaitMs?: number;
  /**
   * The rate-limit hold and circuit breaker this client shares with every other client of the
   * same connection (ConnectionLimitsRegistry). Absent: each call stands alone.
   */
  limits?: ConnectionLimits;
  telemetry?: Telemetry;
  clock: Clock;
  /**
   * Which addresses may be called (destinationPolicy.ts). Default: the process's, which the
   * platform composition sets (private addresses allowed locally, refused on Azure).
   */
  destinationPolicy?: DestinationPolicy;
}

export interface ProviderRequest {
  method?: string;
  /** Path below the base URL, e.g. `/v1/customers`. */
  path: string;
  query?: Record<string, string | number | undefined | null>;
  body?: unknown;
  /** Per-request headers (Idempotency-Key, If-Match); auth headers still come from the options. */
  headers?: Record<string, string>;
}

export interface ProviderResponse<T> {
  status: number;
  body: T;
  rateLimit?: RateLimitInfo;
  /**
   * For an answer without a body: its `Location`, resolved against the request's URL (absent when
   * there is none or it is unreadable). A `201 Created` with no body names the new record only
   * there; `getLocation` reads it.
   */
  location?: string;
}

/**
 * One attempt of one provider call. It never sleeps and never retries: a failure is classified
 * into a SyncBridgeError code and the caller reschedules its step (DESIGN.md §4, serverless-shaped
 * work). Codes:
 * - `rate_limited` (429; a 403 with Retry-After or `X-RateLimit-Remaining: 0`, which is how GitHub
 *   answers a spent or secondary rate limit), with `retryAt` when the provider said when;
 * - `auth_failed` (401, any other 403);
 * - `transient` (5xx, with `retryAt` when it carries a Retry-After, as a 503 for maintenance does;
 *   network errors, timeouts, bodies that end early or are not JSON);
 * - `provider_rejected` (other 4xx, quoting the start of the body with the request's credentials masked);
 * - `configuration` (a 3xx: redirects are never followed, as fetch would re-send custom credential
 *   headers such as `x-api-key`, and a POST's body, to whatever origin the Location names; a
 *   successful body over `maxResponseBytes`, which every retry would download again; a
 *   destination the destination policy refuses, checked when fetch opens a connection, before
 *   anything is sent: see destinationGuard.ts).
 * Every wait a provider asks for is capped at `maxRetryWaitMs`, and at most 64 KiB of an error
 * body is read. With `limits`, a call may also fail before it is sent: `rate_limited` while another
 * call of the connection's rate limit holds it, `transient` while a 503 with Retry-After holds it or
 * its circuit is open (connectionLimits.ts).
 */
export class ProviderHttpClient {
  private readonly baseUrl: URL;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly maxRetryWaitMs: number;
  private readonly dispatcher: Dispatcher;

  constructor(private readonly options: ProviderHttpClientOptions) {
    try {
      this.baseUrl = new URL(options.baseUrl);
    } catch (cause) {
      throw new SyncBridgeError('configuration', `The provider base URL "${options.baseUrl}" is not a valid URL.`, { cause });
    }
    this.headers = { accept: 'application/json', ...options.headers };
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.maxRetryWaitMs = options.maxRetryWaitMs ?? DEFAULT_MAX_RETRY_WAIT_MS;
    this.dispatcher = guardedDispatcher(options.destinationPolicy ?? providerDestinationPolicy());
    if (!(this.timeoutMs > 0)) throw new SyncBridgeError('configuration', 'timeoutMs must be a positive number of milliseconds.');
    if (!(this.maxResponseBytes > 0)) throw new SyncBridgeError('configuration', 'maxResponseBytes must be a positive number of bytes.');
    if (!(this.maxRetryWaitMs > 0)) throw new SyncBridgeError('configuration', 'maxRetryWaitMs must be a positive number of milliseconds.');
  }

  async request<T>(request: ProviderRequest): Promise<ProviderResponse<T>> {
    const url = this.urlOf(request.path);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    return this.send<T>(url, request);
  }

  /** The URL a request's `path` goes to: below the base URL, whose own path is kept. */
  urlOf(path: string): URL {
    return new URL(path.replace(/^\//, ''), this.baseUrl.href.endsWith('/') ? this.baseUrl : `${this.baseUrl.href}/`);
  }

  /**
   * GETs the resource a `Location` names (ProviderResponse.location), with this client's headers
   * and credentials. Only a Location on the base URL's origin is read: another origin would get
   * the connection's credentials, so it fails as `configuration` before anything is sent (the
   * message names that origin only, as a Location may carry a token).
   */
  async getLocation<T>(location: string): Promise<ProviderResponse<T>> {
    let url: URL;
    try {
      url = new URL(location, this.baseUrl);
    } catch (cause) {
      throw new SyncBridgeError('configuration', 'The provider answered with a Location that is not a URL.', { cause });
    }
    if (url.origin !== this.baseUrl.origin) {
      throw new SyncBridgeError('configuration', `The provider answered with a Location on another origin (${url.origin}); SyncBridge sends the connection's credentials only to its own origin (${this.baseUrl.origin}).`);
    }
    return this.send<T>(url, { path: url.pathname });
  }

  private async send<T>(url: URL, request: ProviderRequest): Promise<ProviderResponse<T>> {
    try {
      return await this.attempt<T>(url, request);
    } catch (error) {
      // One retry after a 401, only when the authorizer actually refreshed the credentials.
      const refresh = this.options.authorizer?.refreshAfterUnauthorized;
      if (error instanceof SyncBridgeError && error.code === 'auth_failed' && error.status === 401 && refresh) {
        if (await refresh.call(this.options.authorizer)) return this.attempt<T>(url, request);
      }
      throw error;
    }
  }

  private async attempt<T>(url: URL, request: ProviderRequest): Promise<ProviderResponse<T>> {
    const method = request.method ?? 'GET';
    const operation = `${method} ${url.pathname}`;
    const { limits } = this.options;
    const trial = limits ? limits.admit(operation, this.options.clock) : false;
    const started = Date.now();
    let status: number | undefined;
    // How the circuit counts this call: neutral until the request has gone out.
    let outcome: CallOutcome = 'neutral';
    try {
      const authHeaders = this.options.authorizer ? await this.options.authorizer.headers() : undefined;
      const base = request.headers ? { ...this.headers, ...request.headers } : this.headers;
      const headers = authHeaders ? { ...base, ...authHeaders } : base;
      outcome = 'failure'; // no answer (refused, reset, timeout) until one arrives
      const response = await fetch(url, {
        method,
        headers: request.body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'manual',
        dispatcher: this.dispatcher,
      });
      status = response.status;
      outcome = status >= 500 ? 'failure' : 'success';
      const now = this.options.clock.now();
      const rateLimit = parseRateLimit(response.headers, now, this.maxRetryWaitMs);
      // The window is spent: the connection's other calls wait for its reset too (the step
      // runner already schedules the next page then).
      if (limits && rateLimit?.remaining === 0 && rateLimit.resetAt && rateLimit.resetAt > now) limits.holdUntil(rateLimit.resetAt, `X-RateLimit-Remaining: 0 on ${operation}`);
      if (status >= 300 && status < 400) {
        await discardBody(response);
        throw new SyncBridgeError('configuration', `The provider answered ${operation} with a redirect (HTTP ${status}) to ${redirectTarget(response, url)}. SyncBridge does not follow redirects, so that a connection's credentials go only to its configured address; if the provider has moved, set the connection's config.baseUrl to the new address.`, { status });
      }
      if (status >= 400) {
        const { text } = await readLimitedText(response, ERROR_BODY_BYTES);
        const retryAt = parseRetryAfter(response.headers, now, rateLimit, this.maxRetryWaitMs);
        if (status === 429 || (status === 403 && (response.headers.has('retry-after') || rateLimit?.remaining === 0))) {
          if (limits && retryAt) limits.holdUntil(retryAt, `HTTP ${status} on ${operation}`);
          throw new SyncBridgeError('rate_limited', `The provider rate-limited ${operation} (HTTP ${status}).`, { status, retryAt });
        }
        if (status === 401 || status === 403) {
          throw new SyncBridgeError('auth_failed', `The provider refused our credentials for ${operation} (HTTP ${status}).`, { status });
        }
        if (status >= 500) {
          // Only the provider's own Retry-After: a window reset says nothing about an outage.
          const outageEnd = response.headers.has('retry-after') ? parseRetryAfter(response.headers, now, undefined, this.maxRetryWaitMs) : undefined;
          // A 503 with Retry-After is the provider saying "unavailable, come back then" (RFC 9110
          // §15.6.4): every call of the connection waits for it, not only this one. Another 5xx
          // concerns this request (500) or the path to the provider (502, 504): its Retry-After
          // times this call's retry only, and the circuit counts the failures.
          if (limits && outageEnd && status === 503) limits.holdUntil(outageEnd, `HTTP 503 with Retry-After on ${operation}`, 'unavailable');
          throw new SyncBridgeError('transient', `The provider failed ${operation} with HTTP ${status}.`, { status, retryAt: outageEnd });
        }
        // The body is quoted (the provider's reason is what an operator needs), but a provider may
        // echo the request: the credentials sent with it are masked before the quote is cut.
        const quote = maskProviderText(text, credentialValuesOfHeaders(headers), 200);
        throw new SyncBridgeError('provider_rejected', `The provider rejected ${operation} with HTTP ${status}: ${quote}`, { status });
      }
      // Too large is `configuration`, not `transient` (every retry would download it again) nor
      // `provider_rejected` (the provider accepted; a push would be parked as bad data): the
      // remedy is a setting, a smaller page or a larger limit.
      const tooLarge = () => new SyncBridgeError('configuration', `The provider answered ${operation} with a body larger than maxResponseBytes (${this.maxResponseBytes} bytes), so SyncBridge stopped reading it; lower the connection's config.pageSize or raise its config.maxResponseBytes.`, { status });
      if (Number(response.headers.get('content-length')) > this.maxResponseBytes) {
        await discardBody(response);
        throw tooLarge();
      }
      const read = await readLimitedText(response, this.maxResponseBytes);
      if (!read.complete) throw tooLarge();
      const text = read.text;
      if (text === '') return { status, body: undefined as T, rateLimit, location: locationOf(response, url) };
      let body: T;
      try {
        body = JSON.parse(text) as T;
      } catch (cause) {
        throw new SyncBridgeError('transient', `The provider answered ${operation} with a body that is not complete JSON.`, { cause, status });
      }
      return { status, body, rateLimit };
    } catch (error) {
      if (error instanceof SyncBridgeError) throw error;
      const refusal = destinationRefusalIn(error);
      if (refusal) {
        outcome = 'neutral'; // nothing was sent: the provider did not fail
        throw new SyncBridgeError('configuration', `The call ${operation} was not sent: the connection's config.baseUrl points at ${describeRefusal(refusal)}, which SyncBridge refuses to call; ${remedyFor(refusal.range)}.`, { cause: error });
      }
      // By name, not `instanceof Error`: the abort is a DOMException, which in another realm (a
      // test VM) is no instance of this realm's Error.
      const name = (error as { name?: unknown } | null)?.name;
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      // A body cut off after a 2xx-4xx status is not the provider being down; a timeout is.
      if (timedOut) outcome = 'failure';
      throw new SyncBridgeError(
        'transient',
        timedOut ? `The provider did not answer ${operation} within ${this.timeoutMs} ms.` : `The call ${operation} failed before a complete answer: ${(error as Error).message}.`,
        { cause: error, status },
      );
    } finally {
      if (limits) this.recordOutcome(limits, outcome, trial, status === undefined ? `no answer to ${operation}` : `HTTP ${status} on ${operation}`);
      this.options.telemetry?.dependency({
        type: 'HTTP',
        target: this.baseUrl.host,
        name: operation,
        durationMs: Date.now() - started,
        success: status !== undefined && status < 400,
        resultCode: status ?? 'error',
      });
    }
  }

  private recordOutcome(limits: ConnectionLimits, outcome: CallOutcome, trial: boolean, what: string): void {
    const change = limits.record(outcome, trial, this.options.clock, what);
    if (change === 'opened') {
      this.options.telemetry?.log('warn', 'Provider circuit opened: calls of the connection fail fast until its cool-down ends.', { connectionId: limits.connectionId, target: this.baseUrl.host, last: what, trial });
    } else if (change === 'closed') {
      this.options.telemetry?.log('info', 'Provider circuit closed: the trial call succeeded.', { connectionId: limits.connectionId, target: this.baseUrl.host });
    }
  }
}

/** An answer's Location resolved against the request's URL, or undefined. */
function locationOf(response: Response, from: URL): string | undefined {
  const location = response.headers.get('location');
  if (location === null) return undefined;
  try {
    return new URL(location, from).href;
  } catch {
    return undefined;
  }
}

/** Where a redirect points, as an origin only: a Location may carry a token in its path or query. */
function redirectTarget(response: Response, from: URL): string {
  const location = response.headers.get('location');
  if (location === null) return 'no Location';
  try {
    return new URL(location, from).origin;
  } catch {
    return 'an unreadable Location';
  }
}
