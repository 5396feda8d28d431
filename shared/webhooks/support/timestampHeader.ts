import type { WebhookHeaders } from './headers';
import { parseUnixSeconds, toleranceViolation } from './timestamps';

export type TimestampLookup = { ok: true; timestamp: number; text: string } | { ok: false; reason: string };

/** Reads a unix-seconds header that must appear once, and checks it is within tolerance of `now`. */
export function readFreshTimestamp(headers: WebhookHeaders, name: string, now: number, toleranceSeconds: number): TimestampLookup {
  const header = headers.single(name);
  if (!header.ok) return header;
  const timestamp = parseUnixSeconds(header.value);
  if (timestamp === undefined) return { ok: false, reason: `The ${name} header is malformed: expected unix seconds.` };
  const violation = toleranceViolation(name, timestamp, now, toleranceSeconds);
  return violation === undefined ? { ok: true, timestamp, text: header.value } : { ok: false, reason: violation };
}
