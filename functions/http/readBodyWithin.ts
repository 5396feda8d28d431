import type { HttpRequest } from '@azure/functions';
import { SyncBridgeError } from '../../shared/core/errors';

/**
 * A request body read no further than `maxBytes`: `undefined` as soon as it grows past them, and
 * the rest is never buffered. With `enableHttpStream` (functions/all.ts) the body arrives as the
 * sender sends it, so this is what bounds the memory one request takes below the host's limit.
 *
 * - A declared `Content-Length` bounds what can arrive (HTTP framing): one larger than `maxBytes` is
 *   refused without a read, one within it is read whole with `arrayBuffer()`, the cheapest read
 *   either host offers (no per-chunk stream reads for a small webhook).
 * - Without one (chunked), the body stream is read chunk by chunk and counted. Past the limit the
 *   reader is released, not cancelled: on Azure the stream is the Functions host's proxied request,
 *   and cancelling it destroys that request and the socket the answer has to go back on.
 *
 * A body that cannot be read to its end (the sender hung up mid-upload) is the sender's failure,
 * not ours (`readingBody`).
 */
export function readBodyWithin(request: Pick<HttpRequest, 'headers' | 'body' | 'arrayBuffer'>, maxBytes: number): Promise<Buffer | undefined> {
  return readingBody(() => readUpTo(request, maxBytes));
}

/**
 * Runs a read of the request body. With HTTP streams on, a read fails when the sender hangs up
 * mid-body (or, on the local host, sends more than the host limit, which the host answers 413
 * itself, or sends it slower than the host's request timeout, which the host answers 408 and cuts
 * off): the sender's failure, so a `validation` error (400), never a 500 and an exception in
 * telemetry.
 */
export async function readingBody<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw new SyncBridgeError('validation', 'The request body could not be read to its end: the sender closed the connection, sent more than allowed, or took longer than allowed.', { cause: error });
  }
}

async function readUpTo(request: Pick<HttpRequest, 'headers' | 'body' | 'arrayBuffer'>, maxBytes: number): Promise<Buffer | undefined> {
  const declared = declaredLength(request.headers);
  if (declared !== undefined) {
    if (declared > maxBytes) return undefined;
    const bytes = Buffer.from(await request.arrayBuffer());
    return bytes.length > maxBytes ? undefined : bytes;
  }
  const stream = request.body;
  if (stream === null) return Buffer.alloc(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      reader.releaseLock();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/** The Content-Length that frames the body; none when Transfer-Encoding is set, which takes precedence (RFC 9112 §6.3). */
function declaredLength(headers: Headers): number | undefined {
  if (headers.has('transfer-encoding')) return undefined;
  const value = headers.get('content-length');
  return value !== null && /^\d+$/.test(value) ? Number(value) : undefined;
}
