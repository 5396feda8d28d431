import type { ServerOptions } from 'node:http';
import { SyncBridgeError } from '../shared/core/errors';

/**
 * How long the HTTP trigger waits on a client: what keeps a slow or silent sender from holding a
 * connection (and, with HTTP streams on, a running handler) for ever. See docs/local-host.md,
 * "Slow senders".
 */
export interface HttpTimeouts {
  /**
   * From the connection's first byte (or, on a kept-alive connection, the next request's first
   * byte) to the end of the request's headers. Past it the client gets 408 and the socket closes.
   * Also cuts a connection that sends nothing at all.
   */
  headersTimeoutMs: number;
  /**
   * From the same start to the end of the body: the whole request, however it trickles in (it is
   * not an idle timer). Past it the client gets 408 (or, once an answer has started, just the
   * close), and a handler still reading the body sees its read fail. It counts until the body is
   * read to its end, so with HTTP streams on it includes a handler reading a large body slowly;
   * once the body is in, a handler may take as long as it needs to answer.
   */
  requestTimeoutMs: number;
  /** How long a kept-alive connection may sit idle between an answer and the next request. */
  keepAliveTimeoutMs: number;
}

/**
 * - headers 30 s: Kestrel's own `RequestHeadersTimeout` default (Node's is 60 s).
 * - request 120 s: Node's 300 s let a sender hold a handler five minutes with a trickle. In 120 s
 *   the host's largest accepted body (100 MB by default) needs about 0.9 MB/s, the webhook
 *   receiver's 1 MB about 9 KB/s: far below any working link, far above a deliberate trickle.
 * - keep-alive 5 s: Node's default. Node announces it (`Keep-Alive: timeout=5`, whole seconds) and
 *   closes the idle socket a second after that; fetch (undici) stops reusing a connection before
 *   the announced time, so it does not send on a socket the host is closing.
 */
export const DEFAULT_HTTP_TIMEOUTS: Readonly<HttpTimeouts> = { headersTimeoutMs: 30_000, requestTimeoutMs: 120_000, keepAliveTimeoutMs: 5_000 };

/**
 * The node:http options that apply them. Node checks the header and request timeouts on a timer
 * (`connectionsCheckingInterval`, 30 s by default, which would let a 30 s timeout run to 60 s):
 * here it runs every second, or every quarter of the header timeout when that is shorter, so a
 * slow sender is cut at most that long after its time.
 */
export function nodeServerTimeouts(timeouts: HttpTimeouts): Pick<ServerOptions, 'headersTimeout' | 'requestTimeout' | 'keepAliveTimeout' | 'connectionsCheckingInterval'> {
  return {
    headersTimeout: timeouts.headersTimeoutMs,
    requestTimeout: timeouts.requestTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(1, Math.min(1_000, Math.floor(timeouts.headersTimeoutMs / 4))),
  };
}

/** The app settings `npm start` reads them from; unset ones keep their defaults. */
export const HTTP_TIMEOUT_SETTINGS: Readonly<Record<keyof HttpTimeouts, string>> = {
  headersTimeoutMs: 'SYNCBRIDGE_HTTP_HEADERS_TIMEOUT_MS',
  requestTimeoutMs: 'SYNCBRIDGE_HTTP_REQUEST_TIMEOUT_MS',
  keepAliveTimeoutMs: 'SYNCBRIDGE_HTTP_KEEP_ALIVE_TIMEOUT_MS',
};

/** The timeouts set in the environment (whole positive milliseconds); the host checks how they relate. */
export function httpTimeoutsFrom(env: NodeJS.ProcessEnv): Partial<HttpTimeouts> {
  const timeouts: Partial<HttpTimeouts> = {};
  for (const [option, name] of Object.entries(HTTP_TIMEOUT_SETTINGS) as Array<[keyof HttpTimeouts, string]>) {
    const raw = env[name]?.trim();
    if (!raw) continue;
    const ms = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(ms) || ms <= 0) {
      throw new SyncBridgeError('configuration', `${name} must be a positive whole number of milliseconds, not "${raw}".`);
    }
    timeouts[option] = ms;
  }
  return timeouts;
}
