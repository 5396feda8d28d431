/**
 * The incremental high-water mark never passes our own clock. The next incremental read asks for
 * records updated since the mark, so one record stamped in the future (a provider clock or a bad
 * import saying 2099) would otherwise hide every record updated before that date. Clamping to
 * "now" rather than "now plus an allowed skew" loses nothing: a provider clock slightly ahead only
 * makes the next read fetch those few records again, which change detection counts as unchanged.
 */
export function clampHighWater(mark: string | null, now: string): string | null {
  if (mark === null) return null;
  return Date.parse(mark) > Date.parse(now) ? now : mark;
}

/**
 * Records stamped further ahead of our clock than this are reported (a warning and the
 * FutureStampedRecords metric): beyond ordinary clock skew, their provider time is wrong.
 */
export const FUTURE_STAMP_TOLERANCE_MS = 5 * 60 * 1000;

export function isFutureStamped(updatedAt: string | null, now: string): boolean {
  return updatedAt !== null && Date.parse(updatedAt) > Date.parse(now) + FUTURE_STAMP_TOLERANCE_MS;
}
