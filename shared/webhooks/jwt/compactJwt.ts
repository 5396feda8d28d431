import { decodeBase64Url, isPlainObject, parseJson } from '../support/encoding';

/** A JWS in compact serialisation (RFC 7515 §7.1), split and decoded but not yet trusted. */
export interface CompactJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** The exact bytes the signature covers: "<b64 header>.<b64 payload>". */
  signingInput: Buffer;
  signature: Buffer;
}

const COMPACT = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

/** Splits and decodes a compact JWT; returns a sentence naming the problem when it is not one. */
export function parseCompactJwt(token: string, where: string): CompactJwt | string {
  const parts = COMPACT.exec(token);
  if (!parts) return `The token in ${where} is not a compact JWT (three base64url parts).`;
  const headerBytes = decodeBase64Url(parts[1]);
  const payloadBytes = decodeBase64Url(parts[2]);
  const signature = decodeBase64Url(parts[3]);
  if (!headerBytes || !payloadBytes || !signature) return `The token in ${where} has a part that is not base64url.`;
  const header = parseJson(headerBytes.toString('utf8'));
  const payload = parseJson(payloadBytes.toString('utf8'));
  if (!isPlainObject(header)) return `The token in ${where} has a header that is not a JSON object.`;
  if (!isPlainObject(payload)) return `The token in ${where} has claims that are not a JSON object.`;
  return { header, payload, signingInput: Buffer.from(`${parts[1]}.${parts[2]}`, 'ascii'), signature };
}
