import { lookup as dnsLookup } from 'node:dns/promises';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { destinationRefused, refusalOf, type DestinationPolicy } from './destinationGuard';

/** Resolves a host name to its addresses (DNS by default; tests hand in their own). */
export type Resolver = (hostname: string) => Promise<string[]>;

export const dnsResolver: Resolver = async (hostname) => (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

export interface GuardedRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | URLSearchParams;
  signal?: AbortSignal;
}

export interface GuardedTarget {
  policy: DestinationPolicy;
  /** The connection setting the URL came from, named in a refusal (`config.baseUrl`, `config.oauth.tokenUrl`). */
  setting: string;
  resolve?: Resolver;
}

/** Keep-alive pools shared by every guarded call, as fetch's global one is. */
const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/** Statuses whose Response may not carry a body (the Fetch standard's null body statuses). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * One HTTP request to a provider, answered as a fetch Response, to an address the destination
 * policy allows. The host name is resolved here, every address it resolves to is checked, and the
 * socket connects to the checked address itself (the Host header and TLS server name stay the
 * URL's): a name that resolves to a public address when the connection is saved and to the metadata
 * service at call time (DNS rebinding) is refused, and nothing connects before the check.
 *
 * Built on node:http rather than global fetch because Node's fetch (undici) offers no hook on the
 * resolved address without the undici package. Redirects are never followed (the callers treat a
 * 3xx themselves); the body is not decompressed, as no accept-encoding is sent.
 */
export async function guardedFetch(url: URL, init: GuardedRequestInit, target: GuardedTarget): Promise<Response> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`Only http(s) URLs are fetched, not ${url.protocol}`);
  init.signal?.throwIfAborted();
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(hostname) !== 0 ? [hostname] : await (target.resolve ?? dnsResolver)(hostname);
  if (addresses.length === 0) throw new TypeError(`${hostname} resolved to no address`);
  for (const address of addresses) {
    const range = refusalOf(address, target.policy);
    if (range) throw destinationRefused(target.setting, hostname, address, range);
  }
  init.signal?.throwIfAborted();
  const body = init.body === undefined ? undefined : Buffer.from(String(init.body));
  const headers: Record<string, string> = { ...init.headers, host: url.host };
  if (body) {
    headers['content-length'] = String(body.byteLength);
    if (init.body instanceof URLSearchParams && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
  }
  const secure = url.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  return new Promise<Response>((resolve, reject) => {
    const request = send({
      host: addresses[0],
      port: url.port || (secure ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method: init.method ?? 'GET',
      headers,
      agent: secure ? agents.https : agents.http,
      ...(secure && isIP(hostname) === 0 ? { servername: hostname } : {}),
    });
    const abort = () => {
      const reason = init.signal?.reason ?? new DOMException('This operation was aborted', 'AbortError');
      request.destroy(reason);
      reject(reason);
    };
    init.signal?.addEventListener('abort', abort, { once: true });
    request.on('error', (error) => {
      init.signal?.removeEventListener('abort', abort);
      reject(error);
    });
    request.on('response', (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      const responseHeaders = new Headers();
      for (const [name, value] of Object.entries(response.headers)) {
        if (value === undefined) continue;
        for (const one of Array.isArray(value) ? value : [value]) responseHeaders.append(name, one);
      }
      // The timeout covers reading the body too, as fetch's signal does.
      init.signal?.removeEventListener('abort', abort);
      const abortBody = () => response.destroy(init.signal?.reason);
      init.signal?.addEventListener('abort', abortBody, { once: true });
      response.once('close', () => init.signal?.removeEventListener('abort', abortBody));
      const nullBody = NULL_BODY.has(status) || (init.method ?? 'GET').toUpperCase() === 'HEAD';
      if (nullBody) response.resume();
      resolve(new Response(nullBody ? null : (Readable.toWeb(response) as ReadableStream<Uint8Array>), { status, statusText: response.statusMessage, headers: responseHeaders }));
    });
    request.end(body);
  });
}
