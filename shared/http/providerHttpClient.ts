import { SyncBridgeError } from '../core/errors';
import { credentialValuesOfHeaders, maskProviderText } from '../core/masking';
import type { RequestAuthorizer } from '../adapters/adapter';
import type { Clock } from '../ports/clock';
import type { Telemetry } from '../ports/telemetry';
import { parseRateLimit, parseRetryAfter, type RateLimitInfo } from './rateLimit';

export interface ProviderHttpClientOptions {
  baseUrl: string;
  /** Sent with every request (static auth headers go here; they are never logged). */
  headers?: Record<string, string>;
  /** Adds auth headers per request and may refresh credentials once after a 401. */
  authorizer?: RequestAuthorizer;
  /** Whole-request budget including reading the body. Default 30,000 ms. */
  timeoutMs?: number;
  telemetry?: Telemetry;
  clock: Clock;
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
}

/**
 * One attempt of one provider call. It never sleeps and never retries: a failure is classified
 * into a SyncBridgeError code and the caller reschedules its step (DESIGN.md §4, serverless-shaped
 * work). Codes: `rate_limited` (429, with `retryAt`), `auth_failed` (401/403), `transient` (5xx,
 * network errors, timeouts, bodies that end early or are not JSON), `provider_rejected` (other 4xx,
 * quoting the start of the body with the request's credentials masked).
 */
export class ProviderHttpClient {
  private readonly baseUrl: URL;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(private readonly options: ProviderHttpClientOptions) {
    try {
      this.baseUrl = new URL(options.baseUrl);
    } catch (cause) {
      throw new SyncBridgeError('configuration', `The provider base URL "${options.baseUrl}" is not a valid URL.`, { cause });
    }
    this.headers = { accept: 'application/json', ...options.headers };
    this.timeoutMs = options.timeoutMs ?? 30_000;
    if (!(this.timeoutMs > 0)) throw new SyncBridgeError('configuration', 'timeoutMs must be a positive number of milliseconds.');
  }

  async request<T>(request: ProviderRequest): Promise<ProviderResponse<T>> {
    try {
      return await this.attempt<T>(request);
    } catch (error) {
      // One retry after a 401, only when the authorizer actually refreshed the credentials.
      const refresh = this.options.authorizer?.refreshAfterUnauthorized;
      if (error instanceof SyncBridgeError && error.code === 'auth_failed' && error.status === 401 && refresh) {
        if (await refresh.call(this.options.authorizer)) return this.attempt<T>(request);
      }
      throw error;
    }
  }

  private async attempt<T>(request: ProviderRequest): Promise<ProviderResponse<T>> {
    const method = request.method ?? 'GET';
    const url = new URL(request.path.replace(/^\//, ''), this.baseUrl.href.endsWith('/') ? this.baseUrl : `${this.baseUrl.href}/`);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    const started = Date.now();
    const operation = `${method} ${url.pathname}`;
    let status: number | undefined;
    try {
      const authHeaders = this.options.authorizer ? await this.options.authorizer.headers() : undefined;
      const base = request.headers ? { ...this.headers, ...request.headers } : this.headers;
      const headers = authHeaders ? { ...base, ...authHeaders } : base;
      const response = await fetch(url, {
        method,
        headers: request.body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = response.status;
      const now = this.options.clock.now();
      const rateLimit = parseRateLimit(response.headers, now);
      const text = await response.text();
      if (status === 429) {
        throw new SyncBridgeError('rate_limited', `The provider rate-limited ${operation}.`, {
          status,
          retryAt: parseRetryAfter(response.headers, now, rateLimit),
        });
      }
      if (status === 401 || status === 403) {
        throw new SyncBridgeError('auth_failed', `The provider refused our credentials for ${operation} (HTTP ${status}).`, { status });
      }
      if (status >= 500) {
        throw new SyncBridgeError('transient', `The provider failed ${operation} with HTTP ${status}.`, { status });
      }
      if (status >= 400) {
        // The body is quoted (the provider's reason is what an operator needs), but a provider may
        // echo the request: the credentials sent with it are masked before the quote is cut.
        const quote = maskProviderText(text, credentialValuesOfHeaders(headers), 200);
        throw new SyncBridgeError('provider_rejected', `The provider rejected ${operation} with HTTP ${status}: ${quote}`, { status });
      }
      let body: T;
      try {
        body = (text === '' ? undefined : JSON.parse(text)) as T;
      } catch (cause) {
        throw new SyncBridgeError('transient', `The provider answered ${operation} with a body that is not complete JSON.`, { cause, status });
      }
      return { status, body, rateLimit };
    } catch (error) {
      if (error instanceof SyncBridgeError) throw error;
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw new SyncBridgeError(
        'transient',
        timedOut ? `The provider did not answer ${operation} within ${this.timeoutMs} ms.` : `The call ${operation} failed before a complete answer: ${(error as Error).message}.`,
        { cause: error, status },
      );
    } finally {
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
}
