/**
 * Strict decoders for signature strings. Buffer.from(x, 'hex' | 'base64') silently skips bad
 * characters and truncates odd input, which would let a malformed header reach the comparison;
 * these return undefined instead, so the caller can name the malformed header.
 */

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export function decodeHex(text: string, expectedBytes?: number): Buffer | undefined {
  if (!HEX.test(text)) return undefined;
  const bytes = Buffer.from(text, 'hex');
  return expectedBytes === undefined || bytes.length === expectedBytes ? bytes : undefined;
}

export function decodeBase64(text: string, expectedBytes?: number): Buffer | undefined {
  if (text.length === 0 || !BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return expectedBytes === undefined || bytes.length === expectedBytes ? bytes : undefined;
}

/** base64url without padding, as used by JWS (RFC 7515 §2). */
export function decodeBase64Url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  return Buffer.from(text, 'base64url');
}

/** Parses JSON without throwing; undefined for anything that is not valid JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
