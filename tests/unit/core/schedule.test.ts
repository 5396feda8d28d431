import { isDue, lastOccurrence, nextOccurrence, validateSchedule } from '../../../shared/core/schedule';
import { isSyncBridgeError } from '../../../shared/core/errors';

const hourly = { cron: '0 0 * * * *', timeZone: 'UTC', mode: 'incremental' as const, enabled: true };

describe('connection schedules (NCRONTAB with a time zone)', () => {
  test('an hourly schedule is due once the hour has passed since the last action, not before', () => {
    expect(isDue(hourly, new Date('2026-11-23T10:00:00Z'), new Date('2026-11-23T10:59:59Z'))).toBe(false);
    expect(isDue(hourly, new Date('2026-11-23T10:00:00Z'), new Date('2026-11-23T11:00:00Z'))).toBe(true);
    expect(isDue(hourly, new Date('2026-11-23T10:30:00Z'), new Date('2026-11-23T11:00:05Z'))).toBe(true);
  });

  test('the time zone decides when a daily schedule fires, across a DST change', () => {
    const nineInNewYork = { ...hourly, cron: '0 0 9 * * *', timeZone: 'America/New_York' };
    // November: EST (UTC-5) → 14:00Z. July: EDT (UTC-4) → 13:00Z.
    expect(nextOccurrence(nineInNewYork, new Date('2026-11-23T00:00:00Z')).toISOString()).toBe('2026-11-23T14:00:00.000Z');
    expect(nextOccurrence(nineInNewYork, new Date('2026-07-01T00:00:00Z')).toISOString()).toBe('2026-07-01T13:00:00.000Z');
    expect(lastOccurrence(nineInNewYork, new Date('2026-11-23T14:00:00Z')).toISOString()).toBe('2026-11-23T14:00:00.000Z');
  });

  test('a disabled schedule is never due', () => {
    expect(isDue({ ...hourly, enabled: false }, new Date(0), new Date('2026-11-23T11:00:00Z'))).toBe(false);
  });

  test('bad cron expressions and time zones are rejected with the field named', () => {
    for (const [schedule, field] of [
      [{ ...hourly, cron: '* * *' }, 'schedule.cron'],
      [{ ...hourly, cron: '0 0 25 * * *' }, 'schedule.cron'],
      [{ ...hourly, timeZone: 'Nowhere/Special' }, 'schedule.timeZone'],
    ] as const) {
      let error: unknown;
      try {
        validateSchedule(schedule);
      } catch (e) {
        error = e;
      }
      expect(isSyncBridgeError(error, 'validation')).toBe(true);
      expect((error as Error).message.startsWith(field)).toBe(true);
    }
  });
});
