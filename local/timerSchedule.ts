import { CronExpressionParser } from 'cron-parser';
import { SyncBridgeError } from '../shared/core/errors';

/** When a timer fires: the occurrences after a given instant. */
export interface TimerSchedule {
  readonly text: string;
  /** The first occurrence strictly after `after`. */
  next(after: Date): Date;
  /** The last occurrence at or before `atOrBefore` (for scheduleStatus.last on the first run). */
  previous(atOrBefore: Date): Date;
}

/**
 * Parses a timer trigger's schedule the way the Functions host does:
 * - NCRONTAB with six fields, seconds first (`0 *\/5 * * * *`), read in `timeZone` (the host reads
 *   WEBSITE_TIME_ZONE, UTC by default). Five-field cron is refused, because read as NCRONTAB it
 *   would silently mean something else.
 * - A TimeSpan `hh:mm:ss` (or `d.hh:mm:ss`): every that long, counted from the epoch.
 */
export function parseTimerSchedule(schedule: string, timeZone = 'UTC'): TimerSchedule {
  const text = schedule.trim();
  const interval = parseTimeSpanMs(text);
  if (interval !== undefined) return intervalSchedule(text, interval);
  const fields = text.split(/\s+/);
  if (fields.length !== 6) {
    throw new SyncBridgeError('configuration', `Timer schedule "${schedule}" must be NCRONTAB with six fields (seconds first) or a TimeSpan hh:mm:ss.`);
  }
  try {
    CronExpressionParser.parse(text, { tz: timeZone });
  } catch (cause) {
    throw new SyncBridgeError('configuration', `Timer schedule "${schedule}" is not a valid NCRONTAB expression: ${(cause as Error).message}`, { cause });
  }
  return {
    text,
    next: (after) => CronExpressionParser.parse(text, { currentDate: after, tz: timeZone }).next().toDate(),
    previous: (atOrBefore) =>
      CronExpressionParser.parse(text, { currentDate: new Date(atOrBefore.getTime() + 1), tz: timeZone }).prev().toDate(),
  };
}

function intervalSchedule(text: string, intervalMs: number): TimerSchedule {
  return {
    text,
    next: (after) => new Date((Math.floor(after.getTime() / intervalMs) + 1) * intervalMs),
    previous: (atOrBefore) => new Date(Math.floor(atOrBefore.getTime() / intervalMs) * intervalMs),
  };
}

function parseTimeSpanMs(text: string): number | undefined {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(text);
  if (match === null) return undefined;
  const [, days = '0', hours = '0', minutes = '0', seconds = '0'] = match;
  const ms = (((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000;
  if (ms <= 0) throw new SyncBridgeError('configuration', `Timer schedule "${text}" is a zero TimeSpan.`);
  return ms;
}
