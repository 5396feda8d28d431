/**
 * Time in the sandbox has one-second resolution, like many provider APIs: `updated_at` is an ISO
 * string without fractions. Seeded records are spread from a fixed epoch at RECORDS_PER_SECOND,
 * so dozens of records share each second; a sync engine that keeps only the last timestamp as its
 * cursor, or treats `updated_since` as exclusive, loses records at these boundaries.
 */

/** 2026-01-01T00:00:00Z in unix seconds. */
export const SEED_EPOCH_SECONDS = Date.UTC(2026, 0, 1) / 1000;
export const RECORDS_PER_SECOND = 25;

/** The `updated_at` second of the seeded record at `index`; grows with the index. */
export function seededUpdatedSecond(index: number): number {
  return SEED_EPOCH_SECONDS + Math.floor(index / RECORDS_PER_SECOND);
}

/** The newest second any seeded record of a listing of `count` records carries. */
export function lastSeededSecond(count: number): number {
  return seededUpdatedSecond(Math.max(0, count - 1));
}

/** `2026-01-01T00:00:07Z`: ISO-8601 UTC at second resolution. */
export function formatSecond(unixSeconds: number): string {
  let text = formattedSeconds.get(unixSeconds);
  if (text === undefined) {
    text = new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');
    // Seeded records share a few thousand seconds; a bounded cache keeps pages from re-formatting them.
    if (formattedSeconds.size >= 50_000) formattedSeconds.clear();
    formattedSeconds.set(unixSeconds, text);
  }
  return text;
}

const formattedSeconds = new Map<number, string>();

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Milliseconds since the unix epoch of a strict ISO-8601 date-time, or undefined if it is not one. */
export function parseIsoMs(value: string): number | undefined {
  if (!ISO_DATE_TIME.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
