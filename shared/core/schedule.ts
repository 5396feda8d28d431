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

/** The latest time at or before `now` the schedule fires. */
export function lastOccurrence(schedule: ConnectionSchedule, now: Date): Date {
  // Parsing from one millisecond after now makes an occurrence exactly at `now` count.
  const expression = CronExpressionParser.parse(schedule.cron, { tz: schedule.timeZone, currentDate: new Date(now.getTime() + 1) });
  return expression.prev().toDate();
}

export function nextOccurrence(schedule: ConnectionSchedule, now: Date): Date {
  return CronExpressionParser.parse(schedule.cron, { tz: schedule.timeZone, currentDate: now }).next().toDate();
}

/**
 * A schedule is due when it fired after the last time we acted on it. A connection that was
 * never scheduled counts from its creation, so a new connection waits for its first occurrence.
 */
export function isDue(schedule: ConnectionSchedule, lastActedAt: Date, now: Date): boolean {
  if (!schedule.enabled) return false;
  return lastOccurrence(schedule, now).getTime() > lastActedAt.getTime();
}
