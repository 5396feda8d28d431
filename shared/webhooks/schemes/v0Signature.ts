import type { WebhookRequest } from '../request';
import { indexOfMatch } from '../support/constantTime';
import { decodeHex } from '../support/encoding';
import { hmacPerSecret } from '../support/hmac';
import { readFreshTimestamp } from '../support/timestampHeader';

export interface V0SignatureHeaders {
  signatureHeader: string;
  timestampHeader: string;
  toleranceSeconds: number;
}

export type V0SignatureCheck = { ok: true; secretIndex: number } | { ok: false; reason: string };

const V0 = /^v0=([0-9a-fA-F]{64})$/;
const OTHER_VERSION = /^(v[0-9]+)=/;

/**
 * The "v0" scheme Slack introduced and Zoom copied: `<signature header>: v0=<hex HMAC-SHA256 of
 * "v0:{timestamp}:{raw body}">`, the timestamp in its own header and within the tolerance. Returns
 * which secret matched, because Zoom answers its handshake with that same secret.
 */
export function checkV0Signature(request: WebhookRequest, secrets: readonly string[], headers: V0SignatureHeaders): V0SignatureCheck {
  const timestamp = readFreshTimestamp(request.headers, headers.timestampHeader, request.now, headers.toleranceSeconds);
  if (!timestamp.ok) return timestamp;
  const header = request.headers.single(headers.signatureHeader);
  if (!header.ok) return header;
  const match = V0.exec(header.value);
  if (!match) {
    const version = OTHER_VERSION.exec(header.value);
    if (version && version[1] !== 'v0') {
      return { ok: false, reason: `The ${headers.signatureHeader} header carries a ${version[1]} signature; only v0 is accepted.` };
    }
    return { ok: false, reason: `The ${headers.signatureHeader} header is malformed: expected v0= and 64 hex digits.` };
  }
  const expected = hmacPerSecret('sha256', secrets, `v0:${timestamp.text}:`, request.body);
  const secretIndex = indexOfMatch(expected, [decodeHex(match[1], 32)!]);
  return secretIndex >= 0
    ? { ok: true, secretIndex }
    : { ok: false, reason: `The ${headers.signatureHeader} signature does not match the timestamp and body for any active secret.` };
}
