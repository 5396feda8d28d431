import { CronExpressionParser } from 'cron-parser';
import { SyncBridgeError } from './errors';
import type { ConnectionSchedule } from './model';

/** Default schedule of a new connection: hourly incremental, on the hour, UTC. */
export const DEFAULT_SCHEDULE: ConnectionSchedule = { cron: '0 0 * * * *', timeZone: 'UTC', mode: 'incremental', enabled: true };

function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks a schedule: NCRONTAB (six fields, seconds first, as Azure timers use) or classic five-field
 * cron, and an IANA time zone. Throws SyncBridgeError('validation') naming the bad field.
 */
export function validateSchedule(schedule: ConnectionSchedule, field = 'schedule'): ConnectionSchedule {
  const fields = schedule.cron.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    throw new SyncBridgeError('validation', `${field}.cron must have six fields (seconds first, NCRONTAB) or five; "${schedule.cron}" has ${fields}.`);
  }
  if (!isTimeZone(schedule.timeZone)) throw new SyncBridgeError('validation', `${field}.timeZone "${schedule.timeZone}" is not an IANA time zone.`);
  try {
    CronExpressionParser.parse(schedule.cron, { tz: schedule.timeZone });
  } catch (cause) {
    throw new SyncBridgeError('validation', `${field}.cron "${schedule.cron}" is not a valid cron expression: ${(cause as Error).message}`, { cause });
  }
  return schedule;
}

/**
 * The latest time at or before `now` the schedule fires. For display only: cron-parser's prev()
 * does not agree with next() around a DST change (it misses a time that falls into the hour
 * skipped in spring), so isDue never uses it.
 */
export function lastOccurrence(schedule: ConnectionSchedule, now: Date): Date {
  // Parsing from one millisecond after now makes an occurrence exactly at `now` count.
  const expression = CronExpressionParser.parse(schedule.cron, { tz: schedule.timeZone, currentDate: new Date(now.getTime() + 1) });
  return expression.prev().toDate();
}

/**
 * The first time strictly after `after` the schedule fires.
 *
 * cron-parser reads a start inside the second pass of an hour repeated in autumn as a new day's
 * clock: from 02:10 CET it finds 02:30 CET, although 02:30 already came at its first pass (CEST)
 * and `after` is past it. So a start in a second pass is moved back to its first-pass twin (the
 * same wall-clock time, an hour earlier in UTC), and the occurrences from there are walked past
 * `after`.
 *
 * A fixed hour fires at its first pass only, a wildcard hour (all 24 hours) in both passes, as a
 * tick-by-tick scheduler would. cron-parser gets that right for a one-hour repeat only: it marks
 * a single repeated hour, so in a two-hour repeat (Antarctica/Troll, 03:00 +02 back to 01:00 +00)
 * it also returns 02:30 +00, the second pass of 02:30 +02. So an occurrence in a second pass is
 * skipped unless the hour is a wildcard: its first-pass twin is the same wall-clock time, so it
 * matched the schedule already.
 */
export function nextOccurrence(schedule: ConnectionSchedule, after: Date): Date {
  const from = firstPassTwin(schedule.timeZone, after) ?? after;
  const expression = CronExpressionParser.parse(schedule.cron, { tz: schedule.timeZone, currentDate: from });
  const everyHour = expression.fields.hour.values.length === 24;
  let next = expression.next().toDate();
  // At most the occurrences within one repeated stretch (none when `after` is not in one).
  while (next.getTime() <= after.getTime() || (!everyHour && firstPassTwin(schedule.timeZone, next))) {
    next = expression.next().toDate();
  }
  return next;
}

/** Longer than any DST shift (Antarctica/Troll's two hours), so the change falls inside the window. */
const DST_WINDOW_MS = 3 * 3600_000;
const offsetFormats = new Map<string, Intl.DateTimeFormat>();

/** The zone's UTC offset at an instant, in minutes (CET: 60, CEST: 120). */
function utcOffsetMinutes(timeZone: string, atMs: number): number {
  let format = offsetFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    offsetFormats.set(timeZone, format);
  }
  const parts = format.formatToParts(atMs);
  const value = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const wallMs = Date.UTC(value('year'), value('month') - 1, value('day'), value('hour'), value('minute'), value('second'));
  return Math.round((wallMs - Math.floor(atMs / 1000) * 1000) / 60_000);
}

/**
 * When `at` lies in the second pass of an hour the zone repeats (the clock went back within the
 * last few hours and the same wall-clock time already came once), that first pass; else undefined.
 */
function firstPassTwin(timeZone: string, at: Date): Date | undefined {
  const now = utcOffsetMinutes(timeZone, at.getTime());
  const before = utcOffsetMinutes(timeZone, at.getTime() - DST_WINDOW_MS);
  if (before <= now) return undefined; // no clock going back in the window
  const twin = at.getTime() - (before - now) * 60_000;
  return utcOffsetMinutes(timeZone, twin) === before ? new Date(twin) : undefined;
}

/**
 * A schedule is due when it has fired since the last time we acted on it: its first occurrence
 * after `lastActedAt` is at or before `now`. A connection that was never scheduled counts from
 * its creation, so a new connection waits for its first occurrence. However many occurrences
 * were missed (the scheduler was down), the answer is one "due", and acting sets `lastActedAt`
 * to now, so they are caught up once.
 *
 * Going forward from the last action (never back from now) is what makes a DST change fire a
 * daily schedule once: a time in the hour skipped in spring fires at the same offset after the
 * jump (02:30 becomes 03:30), and a time in the hour repeated in autumn fires at its first pass
 * only, because the next occurrence after that action is on the following day.
 */
export function isDue(schedule: ConnectionSchedule, lastActedAt: Date, now: Date): boolean {
  if (!schedule.enabled) return false;
  return nextOccurrence(schedule, lastActedAt).getTime() <= now.getTime();
}
