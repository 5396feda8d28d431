import { hasSeenSet } from '../support/seenSets';
import { QUEUES } from '../../shared/ports/queue';
import type { RecordStore } from '../../shared/ports/recordStore';
import { ENTITIES, Harness } from '../support/harness';
import { ManualClock, sleep } from '../local/helpers';

/**
 * A run step that fails by our own fault (a store error that is not `transient`, a bug), on the
 * real stack (sandbox over HTTP, local host, local queue with its real maxDeliveryCount of 10): it
 * is retried by scheduled messages with the retry policy's backoff, not by the broker's ten
 * immediate redeliveries, so a store hiccup of a second or two does not fail the run; one that
 * keeps failing fails it after MAX_DELIVERY_COUNT tries. The fault is a wrapper in front of the
 * real record store, as in webhookApplyFailures.test.ts.
 */
const EXPECTED_FULL = (n: number) => ({ fetched: n * 5, created: n * 5, updated: 0, unchanged: 0, deleted: 0, failed: 0 });
const GRACE_MS = 20 * 60_000; // the default stalledRunGraceMs

/** Makes the real store's getStates (the page's read of stored hashes) throw while `failing()` says so. */
function failGetStates(h: Harness, failing: () => boolean, before?: () => Promise<void>): { calls: number[] } {
  const records: RecordStore = h.platform.records;
  const getStates = records.getStates.bind(records);
  const calls: number[] = [];
  records.getStates = async (...args) => {
    calls.push(Date.now());
    if (failing()) {
      await before?.();
      throw new Error('SQLITE_BUSY: database is locked (injected)');
    }
    return getStates(...args);
  };
  return { calls };
}

describe('a run step that fails by our fault', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  test('is retried with backoff by scheduled messages, so a store hiccup of a second and a half does not fail the run', async () => {
    // Backoff 150 ms, then 300 ms (the harness's jitter is fixed at the middle): nine retries span over two seconds.
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 }, pageSize: 10, engine: { retry: { initialDelayMs: 200, maxDelayMs: 400 } } });
    let until = Number.POSITIVE_INFINITY;
    const reads = failGetStates(h, () => {
      if (until === Number.POSITIVE_INFINITY) until = Date.now() + 1_500; // from the first read of the run
      return Date.now() < until;
    });
    const runId = await h.startSync('full');
    const waiting = await h.waitFor('the page to wait for its retry', async () => {
      const run = await h.run(runId);
      return run.finishedAt || run.entities[0].lastError ? run : undefined;
    });
    expect(waiting.state).toBe('running');
    expect(waiting.entities[0].lastError).toMatch(/^An internal error \(the exception is in the telemetry under this run id\); retrying at \S+ \(attempt 2 of 10\)\.$/);

    const run = await h.waitForRun(runId, 30_000);
    expect(run.state).toBe('done');
    expect(run.counters).toEqual(EXPECTED_FULL(30));
    expect(JSON.stringify(run)).not.toContain('SQLITE');
    const failed = reads.calls.filter((at) => at < until);
    expect(failed.length).toBeGreaterThan(1);
    expect(failed.length).toBeLessThan(10);
    // Backoff between the tries of the page, not immediate redeliveries.
    for (let i = 1; i <= failed.length; i += 1) expect(reads.calls[i] - reads.calls[i - 1]).toBeGreaterThanOrEqual(140);
    expect(h.platform.queue.depth(QUEUES.inbound).deadLettered).toBe(0);
    await h.expectInStep();
  }, 60_000);

  test('that keeps failing fails the run after ten tries spaced by backoff, with a reason that quotes nothing of the error', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 }, pageSize: 10, engine: { retry: { initialDelayMs: 40, maxDelayMs: 80 } } });
    const reads = failGetStates(h, () => true);
    const runId = await h.startSync('incremental');
    const run = await h.waitForRun(runId, 30_000);
    expect(run.state).toBe('failed');
    expect(run.lastError).toMatch(/^SyncBridge could not run step \S+:customers:1:a9: an internal error, retried with backoff until its tries ran out \(the exception is in the telemetry under this run id\)\. Start a new run once the cause is fixed\.$/);
    expect(JSON.stringify(run)).not.toContain('SQLITE');
    expect(reads.calls).toHaveLength(10); // MAX_DELIVERY_COUNT tries in all
    for (let i = 1; i < reads.calls.length; i += 1) expect(reads.calls[i] - reads.calls[i - 1]).toBeGreaterThanOrEqual(25);
    expect(h.platform.queue.depth(QUEUES.inbound).deadLettered).toBe(0);
    expect(await h.platform.runs.countActive('t1')).toBe(0);
    expect(h.telemetryLines.some((line) => line.includes('SQLITE_BUSY') && line.includes(runId))).toBe(true);
  }, 60_000);

  test('waiting for a backoff longer than the watchdog grace is not taken for stalled, and runs when it is due', async () => {
    const clock = new ManualClock();
    // A first retry after 90 minutes (2 h with the harness's jitter): far past the 20-minute grace.
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 }, pageSize: 10, clock, engine: { retry: { initialDelayMs: 2 * 3600_000, maxDelayMs: 2 * 3600_000 } } });
    let failures = 1;
    failGetStates(h, () => failures-- > 0);
    const runId = await h.startSync('full');
    const waiting = await h.waitFor('the retry to be scheduled', async () => {
      const run = (await h.platform.runs.get(runId))!;
      return run.entities[0].attempts === 1 ? run : undefined;
    });
    expect(waiting.nextStepDueAt).toBe(new Date(clock.now().getTime() + 90 * 60_000).toISOString());
    expect(h.platform.queue.depth(QUEUES.inbound).scheduled).toBe(1);

    clock.advance(GRACE_MS + 30 * 60_000); // well past the grace after the run's last write, before the retry is due
    await h.services.scheduler.tick();
    await sleep(200);
    const after = (await h.platform.runs.get(runId))!;
    expect({ state: after.state, redrives: after.redrives ?? 0 }).toEqual({ state: 'running', redrives: 0 });
    expect(h.telemetryLines.some((line) => line.includes('Run stalled'))).toBe(false);

    clock.advance(40 * 60_000); // the retry is due
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('done');
    expect(run.counters).toEqual(EXPECTED_FULL(30));
    await h.expectInStep();
  }, 60_000);

  /**
   * A full run (pages of 10, retries a minute apart on a manual clock) whose second page fails once,
   * after the first page marked its ids: returned once its retry is scheduled. `reads` counts the
   * record-state reads so far.
   */
  async function runWaitingForItsRetry(): Promise<{ clock: ManualClock; runId: string; reads: () => number }> {
    const clock = new ManualClock();
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 }, pageSize: 10, clock, engine: { retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 } } });
    let reads = 0;
    failGetStates(h, () => ++reads === 2);
    const runId = await h.startSync('full');
    await h.waitFor('the retry to be scheduled', async () => (await h.platform.runs.get(runId))!.entities[0].attempts === 1);
    return { clock, runId, reads: () => reads };
  }

  test('a run cancelled while its step waits stays cancelled: the retry finds it ended, and no seen-set is left', async () => {
    const { clock, runId, reads } = await runWaitingForItsRetry();
    expect((await h.api('POST', `/api/syncs/${runId}/cancel`)).status).toBe(200);

    clock.advance(60_000); // the retry is due
    await h.waitFor('the inbound queue to drain', async () => {
      const depth = h.platform.queue.depth(QUEUES.inbound);
      return depth.active === 0 && depth.scheduled === 0 && depth.locked === 0;
    });
    const run = await h.run(runId);
    expect(run.state).toBe('cancelled');
    expect(run.counters.fetched).toBe(10); // the first page only
    expect(reads()).toBe(2); // the retry read nothing
    for (const entity of ENTITIES) expect(await hasSeenSet(h.platform.records, { tenantId: 't1', connectionId: 'shop', entity }, runId)).toBe(false);
  }, 60_000);

  test('a run paused while its step waits is not moved by the retry, and completes once resumed', async () => {
    const { clock, runId, reads } = await runWaitingForItsRetry();
    expect((await h.api('POST', `/api/syncs/${runId}/pause`)).status).toBe(200);

    clock.advance(60_000); // the retry is due, and finds the run paused
    await h.waitFor('the retry to run', async () => h.platform.queue.depth(QUEUES.inbound).scheduled === 0 && h.platform.queue.depth(QUEUES.inbound).active === 0);
    await sleep(100);
    expect(await h.platform.runs.get(runId)).toMatchObject({ state: 'paused' });
    expect(reads()).toBe(2);

    expect((await h.api('POST', `/api/syncs/${runId}/resume`)).status).toBe(200);
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('done');
    expect(run.counters).toEqual(EXPECTED_FULL(30));
    await h.expectInStep();
  }, 60_000);

  test('a run paused while the failing step was at work gets no retry: its resume sends the step', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 }, pageSize: 10, engine: { retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 } } });
    let reads = 0;
    let runId = '';
    failGetStates(h, () => ++reads === 2, async () => {
      expect((await h.api('POST', `/api/syncs/${runId}/pause`)).status).toBe(200);
    });
    runId = await h.startSync('full');
    await h.waitFor('the failure in the telemetry', async () => h.telemetryLines.some((line) => line.includes('SQLITE_BUSY')));
    await h.waitFor('the inbound queue to drain', async () => {
      const depth = h.platform.queue.depth(QUEUES.inbound);
      return depth.active === 0 && depth.locked === 0;
    });
    expect(h.platform.queue.depth(QUEUES.inbound).scheduled).toBe(0); // no retry of a paused run
    expect(await h.platform.runs.get(runId)).toMatchObject({ state: 'paused' });

    expect((await h.api('POST', `/api/syncs/${runId}/resume`)).status).toBe(200);
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('done');
    expect(run.counters).toEqual(EXPECTED_FULL(30));
  }, 60_000);
});
