import type { Timer } from '@azure/functions';
import type { FunctionDefinition } from '../../functions/definition';
import { startLocalHost, type RunningLocalHost } from '../../local/host';
import { parseTimerSchedule } from '../../local/timerSchedule';
import { SqliteQueue } from '../../shared/platform/local/sqliteQueue';
import { openTempDatabase, sleep, waitFor } from './helpers';

describe('timer schedules', () => {
  it('reads NCRONTAB with seconds first', () => {
    const everyFiveMinutes = parseTimerSchedule('0 */5 * * * *');
    expect(everyFiveMinutes.next(new Date('2030-01-01T10:02:30Z'))).toEqual(new Date('2030-01-01T10:05:00Z'));
    expect(everyFiveMinutes.next(new Date('2030-01-01T10:05:00Z'))).toEqual(new Date('2030-01-01T10:10:00Z'));
    expect(everyFiveMinutes.previous(new Date('2030-01-01T10:05:00Z'))).toEqual(new Date('2030-01-01T10:05:00Z'));
    expect(parseTimerSchedule('30 * * * * *').next(new Date('2030-01-01T10:00:00Z'))).toEqual(new Date('2030-01-01T10:00:30Z'));
  });

  it('reads a schedule in the given time zone', () => {
    const nineInBerlin = parseTimerSchedule('0 0 9 * * *', 'Europe/Berlin');
    expect(nineInBerlin.next(new Date('2030-01-01T00:00:00Z'))).toEqual(new Date('2030-01-01T08:00:00Z'));
  });

  it('reads a TimeSpan as a fixed interval', () => {
    expect(parseTimerSchedule('00:00:10').next(new Date('2030-01-01T10:00:03Z'))).toEqual(new Date('2030-01-01T10:00:10Z'));
  });

  it('refuses five-field cron and nonsense, naming the schedule', () => {
    expect(() => parseTimerSchedule('*/5 * * * *')).toThrow(/"\*\/5 \* \* \* \*" must be NCRONTAB with six fields/);
    expect(() => parseTimerSchedule('0 0 99 * * *')).toThrow(/not a valid NCRONTAB/);
  });
});

describe('local host: timer trigger', () => {
  let env: ReturnType<typeof openTempDatabase>;
  let queue: SqliteQueue;
  let host: RunningLocalHost | undefined;

  beforeEach(() => {
    env = openTempDatabase();
    queue = new SqliteQueue(env.db);
  });
  afterEach(async () => {
    await host?.stop();
    host = undefined;
    queue.close();
    env.cleanup();
  });

  async function start(functions: FunctionDefinition[], enableTimers = true, lines: string[] = []) {
    host = await startLocalHost({ functions, queue, port: 0, enableTimers, log: (line) => lines.push(line) });
    return host;
  }

  it('fires on a seconds schedule with a Timer describing the occurrence', async () => {
    const calls: Array<{ at: number; timer: Timer }> = [];
    await start([{ kind: 'timer', name: 'tick', options: { schedule: '* * * * * *', handler: (timer) => void calls.push({ at: Date.now(), timer }) } }]);
    await waitFor(() => calls.length >= 2, 4_000, 'two ticks');
    const [first, second] = calls;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(500); // one occurrence apart, minus scheduling jitter
    expect(second!.timer).toMatchObject({ isPastDue: false, schedule: { adjustForDST: true } });
    const status = second!.timer.scheduleStatus;
    expect(new Date(status.next).getTime() - new Date(status.last).getTime()).toBe(2_000);
    expect(new Date(status.lastUpdated).getTime()).toBeGreaterThan(0);
  });

  it('runs once at start with runOnStartup', async () => {
    let calls = 0;
    await start([{ kind: 'timer', name: 'daily', options: { schedule: '0 0 3 * * *', runOnStartup: true, handler: () => void (calls += 1) } }]);
    await waitFor(() => calls === 1, 1_000, 'the startup run');
  });

  it('never overlaps an invocation with the previous one of the same timer', async () => {
    let running = 0;
    let maxRunning = 0;
    let started = 0;
    const lines: string[] = [];
    await start(
      [
        {
          kind: 'timer',
          name: 'slow',
          options: {
            schedule: '* * * * * *',
            handler: async () => {
              started += 1;
              running += 1;
              maxRunning = Math.max(maxRunning, running);
              await sleep(2_200);
              running -= 1;
            },
          },
        },
      ],
      true,
      lines,
    );
    await sleep(3_500);
    expect(maxRunning).toBe(1);
    expect(started).toBeLessThanOrEqual(2);
    expect(lines.some((l) => l.includes("Timer 'slow' skipped"))).toBe(true);
  });

  it('does not fire when timers are disabled', async () => {
    let calls = 0;
    await start([{ kind: 'timer', name: 'tick', options: { schedule: '* * * * * *', runOnStartup: true, handler: () => void (calls += 1) } }], false);
    await sleep(1_300);
    expect(calls).toBe(0);
  });

  it('fails to start on a bad schedule', async () => {
    await expect(start([{ kind: 'timer', name: 'bad', options: { schedule: '0 */5 * * *', handler: () => undefined } }])).rejects.toMatchObject({
      code: 'configuration',
    });
  });
});
