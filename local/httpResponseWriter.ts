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
