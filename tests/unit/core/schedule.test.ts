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

  /** Ticks the way the scheduler does (acting sets lastActedAt to the tick) and returns the ticks that acted. */
  function ticksThatAct(schedule: typeof hourly, lastActed: string, from: string, to: string, everyMs = 60_000): string[] {
    const acted: string[] = [];
    let last = new Date(lastActed);
    for (let t = Date.parse(from); t <= Date.parse(to); t += everyMs) {
      const now = new Date(t);
      if (!isDue(schedule, last, now)) continue;
      acted.push(now.toISOString());
      last = now;
    }
    return acted;
  }

  const twoThirtyInBerlin = { ...hourly, cron: '0 30 2 * * *', timeZone: 'Europe/Berlin' };

  test('a daily time in the hour Berlin skips in spring runs once that day, right after the jump', () => {
    // 2025-03-30: 02:00 CET becomes 03:00 CEST (01:00Z); 02:30 does not exist that day.
    const acted = ticksThatAct(twoThirtyInBerlin, '2025-03-29T01:31:00Z', '2025-03-29T22:00:00Z', '2025-03-31T01:00:00Z');
    expect(acted).toEqual(['2025-03-30T01:30:00.000Z', '2025-03-31T00:30:00.000Z']); // 03:30 CEST, then 02:30 CEST
  });

  test('a daily time in the hour Berlin repeats in autumn runs once that day, at its first pass', () => {
    // 2025-10-26: 03:00 CEST becomes 02:00 CET (01:00Z); 02:30 happens at 00:30Z and again at 01:30Z.
    const acted = ticksThatAct(twoThirtyInBerlin, '2025-10-25T00:31:00Z', '2025-10-25T22:00:00Z', '2025-10-27T02:00:00Z');
    expect(acted).toEqual(['2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z']);
  });

  test('with a five-minute scheduler tick the DST days still get one run each', () => {
    const spring = ticksThatAct(twoThirtyInBerlin, '2025-03-29T01:31:00Z', '2025-03-29T12:02:00Z', '2025-03-31T12:00:00Z', 300_000);
    expect(spring).toEqual(['2025-03-30T01:32:00.000Z', '2025-03-31T00:32:00.000Z']);
    const autumn = ticksThatAct(twoThirtyInBerlin, '2025-10-25T00:31:00Z', '2025-10-25T12:02:00Z', '2025-10-27T12:00:00Z', 300_000);
    expect(autumn).toEqual(['2025-10-26T00:32:00.000Z', '2025-10-27T01:32:00.000Z']);
  });

  test('a daily time acted on late, during the second pass of the autumn hour, does not run again at its second pass', () => {
    // The scheduler missed 02:30 CEST (00:30Z) and acted at 02:10 CET (01:10Z), in the repeated
    // hour: 02:30 CET (01:30Z) is that same 02:30 again, not a new occurrence.
    const acted = ticksThatAct(twoThirtyInBerlin, '2025-10-26T01:10:00Z', '2025-10-26T01:11:00Z', '2025-10-27T02:00:00Z');
    expect(acted).toEqual(['2025-10-27T01:30:00.000Z']);
    expect(nextOccurrence(twoThirtyInBerlin, new Date('2025-10-26T01:10:00Z')).toISOString()).toBe('2025-10-27T01:30:00.000Z');
    // Every 20 minutes within hour 2: 02:00, 02:20, 02:40 run once, in the first pass.
    const everyTwentyInTwo = { ...twoThirtyInBerlin, cron: '0 */20 2 * * *' };
    expect(ticksThatAct(everyTwentyInTwo, '2025-10-26T01:10:00Z', '2025-10-26T01:11:00Z', '2025-10-27T01:30:00Z'))
      .toEqual(['2025-10-27T01:00:00.000Z', '2025-10-27T01:20:00.000Z']);
    // A wildcard hour still runs every real hour: acted at 01:10Z, 02:00Z (03:00 CET) is next.
    const hourlyInBerlin = { ...hourly, timeZone: 'Europe/Berlin' };
    expect(nextOccurrence(hourlyInBerlin, new Date('2025-10-26T01:10:00Z')).toISOString()).toBe('2025-10-26T02:00:00.000Z');
    expect(nextOccurrence(hourlyInBerlin, new Date('2025-10-26T00:10:00Z')).toISOString()).toBe('2025-10-26T01:00:00.000Z');
    // The same in New York (01:00-02:00 repeats on 2025-11-02, EDT → EST at 06:00Z).
    const oneThirtyInNewYork = { ...twoThirtyInBerlin, cron: '0 30 1 * * *', timeZone: 'America/New_York' };
    expect(ticksThatAct(oneThirtyInNewYork, '2025-11-02T06:10:00Z', '2025-11-02T06:11:00Z', '2025-11-03T07:00:00Z')).toEqual(['2025-11-03T06:30:00.000Z']);
  });

  test('a daily time in a two-hour repeat (Antarctica/Troll) runs once that day, at its first pass', () => {
    // 2025-10-26: 03:00 +02 becomes 01:00 +00 (01:00Z); 01:00-03:00 local comes twice, so 02:30
    // happens at 00:30Z and again at 02:30Z.
    const twoThirtyInTroll = { ...twoThirtyInBerlin, timeZone: 'Antarctica/Troll' };
    // Acted late, at 01:10 +00 (01:10Z), in the second pass: 02:30Z is that same 02:30 again.
    expect(nextOccurrence(twoThirtyInTroll, new Date('2025-10-26T01:10:00Z')).toISOString()).toBe('2025-10-27T02:30:00.000Z');
    expect(ticksThatAct(twoThirtyInTroll, '2025-10-26T01:10:00Z', '2025-10-26T01:11:00Z', '2025-10-27T03:00:00Z')).toEqual(['2025-10-27T02:30:00.000Z']);
    // Acted on time at its first pass: the next run is the following day.
    expect(ticksThatAct(twoThirtyInTroll, '2025-10-25T02:31:00Z', '2025-10-25T12:00:00Z', '2025-10-27T03:00:00Z', 300_000))
      .toEqual(['2025-10-26T00:30:00.000Z', '2025-10-27T02:30:00.000Z']);
    // A fixed time in the first repeated hour (01:30) too; a wildcard hour still runs every real hour.
    const oneThirtyInTroll = { ...twoThirtyInTroll, cron: '0 30 1 * * *' };
    expect(ticksThatAct(oneThirtyInTroll, '2025-10-25T00:00:00Z', '2025-10-25T12:00:00Z', '2025-10-27T03:00:00Z'))
      .toEqual(['2025-10-25T23:30:00.000Z', '2025-10-27T01:30:00.000Z']);
    const hourlyInTroll = { ...hourly, timeZone: 'Antarctica/Troll' };
    expect(ticksThatAct(hourlyInTroll, '2025-10-25T21:59:00Z', '2025-10-25T21:59:00Z', '2025-10-26T04:30:00Z'))
      .toEqual(['22', '23', '00', '01', '02', '03', '04'].map((h, i) => `2025-10-${i < 2 ? 25 : 26}T${h}:00:00.000Z`));
  });

  test('an hourly schedule runs every real hour across the autumn change: 25 runs on a 25-hour day', () => {
    const hourlyInBerlin = { ...hourly, timeZone: 'Europe/Berlin' };
    // The local day 2025-10-26 runs from 2025-10-25T22:00Z to 2025-10-26T23:00Z.
    const acted = ticksThatAct(hourlyInBerlin, '2025-10-25T21:59:00Z', '2025-10-25T21:59:00Z', '2025-10-26T22:59:00Z');
    expect(acted).toHaveLength(25);
    expect(acted.slice(1, 5)).toEqual(['2025-10-25T23:00:00.000Z', '2025-10-26T00:00:00.000Z', '2025-10-26T01:00:00.000Z', '2025-10-26T02:00:00.000Z']);
  });

  test('in a zone without DST the same schedule runs once a day at the same UTC time on those dates', () => {
    const twoThirtyInTokyo = { ...twoThirtyInBerlin, timeZone: 'Asia/Tokyo' };
    expect(ticksThatAct(twoThirtyInTokyo, '2025-03-28T17:31:00Z', '2025-03-29T00:00:00Z', '2025-03-31T00:00:00Z', 300_000))
      .toEqual(['2025-03-29T17:30:00.000Z', '2025-03-30T17:30:00.000Z']);
    expect(ticksThatAct(twoThirtyInTokyo, '2025-10-24T17:31:00Z', '2025-10-25T00:00:00Z', '2025-10-27T00:00:00Z', 300_000))
      .toEqual(['2025-10-25T17:30:00.000Z', '2025-10-26T17:30:00.000Z']);
  });

  test('missed occurrences are caught up once, and a new connection waits for its first occurrence', () => {
    // Acted at 10:00, scheduler down until 15:20: one run at 15:20, the next at 16:00.
    expect(ticksThatAct(hourly, '2026-11-23T10:00:00Z', '2026-11-23T15:20:00Z', '2026-11-23T16:30:00Z')).toEqual(['2026-11-23T15:20:00.000Z', '2026-11-23T16:00:00.000Z']);
    // Created at 10:05 (lastActedAt falls back to createdAt): nothing until 11:00.
    expect(isDue(hourly, new Date('2026-11-23T10:05:00Z'), new Date('2026-11-23T10:59:59Z'))).toBe(false);
    expect(isDue(hourly, new Date('2026-11-23T10:05:00Z'), new Date('2026-11-23T11:00:00Z'))).toBe(true);
    // An occurrence exactly at the last action was already acted on.
    expect(isDue(hourly, new Date('2026-11-23T11:00:00Z'), new Date('2026-11-23T11:59:59Z'))).toBe(false);
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
