import { HttpResponse, type Cookie, type HttpResponseInit } from '@azure/functions';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

/**
 * Writes what an HTTP function returned to the socket, the way the Functions host does:
 * HttpResponseInit or HttpResponse, status default 200, headers, cookies, and a body that is a
 * string, bytes, a stream or `jsonBody` (serialised with content-type application/json).
 *
 * The @azure/functions HttpResponse class does the body conversions, so the local host and Azure
 * agree on content types; streamed bodies are piped as they come, everything else is sent with a
 * Content-Length.
 */
export async function writeHttpResponse(res: ServerResponse, result: unknown, requestMethod: string): Promise<void> {
  if (writePlainResponse(res, result, requestMethod)) return;
  const streamed = isStreamedBody(result);
  const response = toHttpResponse(result);
  res.statusCode = response.status;
  for (const [name, value] of response.headers) {
    if (name.toLowerCase() !== 'set-cookie') res.setHeader(name, value);
  }
  const cookies = [...response.headers.getSetCookie(), ...response.cookies.map(serialiseCookie)];
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);

  const bodyless = requestMethod === 'HEAD' || response.status === 204 || response.status === 304;
  if (bodyless || response.body === null) {
    res.end();
    return;
  }
  if (!streamed) {
    const bytes = Buffer.from(await response.arrayBuffer());
    res.setHeader('content-length', bytes.length);
    res.end(bytes);
    return;
  }
  await pipeToSocket(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), res);
}

const NULL_BODY_STATUSES = new Set([204, 205, 304]);

/**
 * The common case written directly: an HttpResponseInit with a plain header object, no cookies
 * and a JSON, string, bytes or empty body. The bytes, status and headers are those HttpResponse
 * would produce (content-type application/json for `jsonBody`, text/plain;charset=UTF-8 for a
 * string, none for bytes; header names lower-cased; no body on 204/205/304): the host test compares
 * both paths. Building a fetch Response only to read it back cost a tenth of a webhook receipt.
 * Returns false, writing nothing, for everything else.
 */
function writePlainResponse(res: ServerResponse, result: unknown, requestMethod: string): boolean {
  if (typeof result !== 'object' || result === null || result instanceof HttpResponse) return false;
  const init = result as HttpResponseInit;
  if (init.cookies !== undefined && init.cookies.length > 0) return false;
  if (init.headers !== undefined && (Object.getPrototypeOf(init.headers) !== Object.prototype || 'set-cookie' in init.headers || 'Set-Cookie' in init.headers)) return false;
  const status = init.status ?? 200;
  if (!Number.isInteger(status) || status < 200 || status > 599) return false; // let Response raise its error
  const nullBody = NULL_BODY_STATUSES.has(status);
  let bytes: Buffer | undefined;
  let contentType: string | undefined;
  if (init.jsonBody !== undefined && init.jsonBody !== null && !nullBody) {
    bytes = Buffer.from(JSON.stringify(init.jsonBody));
    contentType = 'application/json';
  } else if (nullBody || init.body === undefined || init.body === null) {
    bytes = undefined;
  } else if (typeof init.body === 'string') {
    bytes = Buffer.from(init.body);
    contentType = 'text/plain;charset=UTF-8';
  } else if (init.body instanceof Uint8Array) {
    bytes = Buffer.from(init.body.buffer, init.body.byteOffset, init.body.byteLength);
  } else {
    return false;
  }
  res.statusCode = status;
  for (const [name, value] of Object.entries((init.headers ?? {}) as Record<string, string>)) res.setHeader(name.toLowerCase(), String(value));
  if (contentType !== undefined && !res.hasHeader('content-type')) res.setHeader('content-type', contentType);
  if (bytes === undefined || requestMethod === 'HEAD') {
    res.end();
    return true;
  }
  res.setHeader('content-length', bytes.length);
  res.end(bytes);
  return true;
}

/** The generic answer to a function that threw: no message or stack reaches the caller. */
export function writeInternalError(res: ServerResponse, invocationId: string): void {
  if (res.headersSent) {
    res.destroy(); // a half-written body cannot be turned into an error response
    return;
  }
  const body = JSON.stringify({
    error: 'internal',
    message: 'The function failed while handling the request. See the host log for details.',
    invocationId,
  });
  res.writeHead(500, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function toHttpResponse(result: unknown): HttpResponse {
  if (result instanceof HttpResponse) return result;
  if (result === undefined || result === null) return new HttpResponse();
  if (typeof result === 'object') return new HttpResponse(result as HttpResponseInit);
  return new HttpResponse({ body: String(result) });
}

function isStreamedBody(result: unknown): boolean {
  if (result instanceof HttpResponse) return true; // its body is already a stream
  if (typeof result !== 'object' || result === null) return false;
  const body = (result as HttpResponseInit).body;
  if (typeof body !== 'object' || body === null) return false;
  return body instanceof Readable || typeof (body as { getReader?: unknown }).getReader === 'function' || Symbol.asyncIterator in body;
}

function pipeToSocket(source: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    source.on('error', (error) => {
      res.destroy(error);
      reject(error);
    });
    res.on('close', () => {
      source.destroy();
      resolve();
    });
    source.pipe(res);
  });
}

function serialiseCookie(cookie: Cookie): string {
  const parts = [`${cookie.name}=${encodeURIComponent(cookie.value)}`];
  if (cookie.domain) parts.push(`Domain=${cookie.domain}`);
  if (cookie.path) parts.push(`Path=${cookie.path}`);
  if (cookie.expires !== undefined) parts.push(`Expires=${new Date(cookie.expires).toUTCString()}`);
  if (cookie.maxAge !== undefined) parts.push(`Max-Age=${cookie.maxAge}`);
  if (cookie.secure) parts.push('Secure');
  if (cookie.httpOnly) parts.push('HttpOnly');
  if (cookie.sameSite) parts.push(`SameSite=${cookie.sameSite}`);
  return parts.join('; ');
}
