import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { SyncBridgeError, ensureError, isSyncBridgeError } from '../shared/core/errors';

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
const MAX_BODY_BYTES = 1024 * 1024;

export function jsonBytes(body: unknown): Buffer {
  return Buffer.from(JSON.stringify(body), 'utf8');
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  if (res.destroyed || res.writableEnded) return;
  const bytes = jsonBytes(body);
  res.writeHead(status, { ...headers, 'Content-Type': JSON_CONTENT_TYPE, 'Content-Length': bytes.length });
  res.end(bytes);
}

/**
 * Sends the headers with the full Content-Length, then only the first half of the body, then
 * destroys the socket: what a proxy dying mid-response looks like to a client, which must see
 * a failed body read rather than a short but "successful" JSON document.
 */
export function sendTruncatedJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  if (res.destroyed || res.writableEnded) return;
  const bytes = jsonBytes(body);
  res.writeHead(status, { ...headers, 'Content-Type': JSON_CONTENT_TYPE, 'Content-Length': bytes.length });
  // Destroy only once the partial bytes reached the socket, so the client has started reading.
  res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.destroy());
}

export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}

/** The HTTP status for an error at the sandbox's edge, from the domain error's code. */
export function statusForError(error: unknown): number {
  if (!isSyncBridgeError(error)) return 500;
  switch (error.code) {
    case 'validation':
      return 400;
    case 'unauthorized':
      return 401;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    default:
      return 500;
  }
}

export function sendError(res: ServerResponse, error: unknown, headers: OutgoingHttpHeaders = {}): number {
  const status = statusForError(error);
  const message = status === 500 ? `Internal sandbox error: ${ensureError(error).message}` : ensureError(error).message;
  sendJson(res, status, { error: message }, headers);
  return status;
}

/** Reads the whole body as UTF-8, refusing more than 1 MB. */
export async function readBodyText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new SyncBridgeError('validation', `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a JSON body; an empty body is `undefined`. Malformed JSON is a validation error. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const text = (await readBodyText(req)).trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new SyncBridgeError('validation', 'The request body is not valid JSON.', { cause });
  }
}

/** A JSON object body (an empty body counts as `{}`), or a validation error. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readJsonBody(req);
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SyncBridgeError('validation', 'The request body must be a JSON object.');
  }
  return body as Record<string, unknown>;
}

/** Decoded path segments; a malformed escape stays as sent and simply matches nothing. */
export function pathSegments(url: URL): string[] {
  return url.pathname.split('/').filter((s) => s !== '').map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      return segment;
    }
  });
}
