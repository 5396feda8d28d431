/**
 * Optimistic concurrency for /v1 writes (RFC 9110 §13.1.1). Every record has a version, served
 * as a strong ETag `"<version>"`; If-Match may carry that ETag (quoted or bare), the record's
 * `updated_at`, or `*`. `updated_at` has one-second resolution, so two changes within one second
 * share it: clients that need an exact check should send the ETag.
 */

export function etagFor(version: number): string {
  return `"${version}"`;
}

/** Whether an If-Match header (absent = no precondition) holds for the record as it is now. */
export function ifMatchHolds(header: string | undefined, current: { version: number; updatedAt: string }): boolean {
  if (header === undefined) return true;
  return header.split(',').some((raw) => {
    const candidate = raw.trim();
    if (candidate === '*') return true;
    // Weak validators never match under If-Match's strong comparison.
    if (candidate.startsWith('W/')) return false;
    const value = candidate.length >= 2 && candidate.startsWith('"') && candidate.endsWith('"') ? candidate.slice(1, -1) : candidate;
    if (/^\d+$/.test(value)) return Number(value) === current.version;
    const ms = Date.parse(value);
    return /^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(ms) && ms === Date.parse(current.updatedAt);
  });
}
