import { SyncBridgeError } from '../../shared/core/errors';
import type { InboundMessage } from '../../shared/core/runs/inboundMessage';
import { QUEUES, type OutgoingMessage } from '../../shared/ports/queue';
import { Harness } from '../support/harness';
import { useScriptedProvider } from '../support/scriptedProvider';
import { ManualClock, sleep } from '../local/helpers';

const EXPECTED_FULL = (n: number) => ({ fetched: n * 5, created: n * 5, updated: 0, unchanged: 0, deleted: 0, failed: 0 });
const TOKEN = 'Bearer sekret-token-4711';

/**
 * Makes `method` of the real object throw `failure()` on its next `times` calls matching `when`,
 * then behave as before (or at once after `heal()`). A fault in front of the real store or queue:
 * what a step sees when Cosmos DB or Service Bus has a bad minute.
 */
function failCalls(target: object, method: string, times: number, failure: () => Error, when: (...args: unknown[]) => boolean = () => true): { failed: () => number; heal: () => void } {
  const object = target as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = object[method].bind(target);
  let failed = 0;
  object[method] = async (...args: unknown[]) => {
    if (failed < times && when(...args)) {
      failed += 1;
      throw failure();
    }
    return original(...args);
  };
  return { failed: () => failed, heal: () => void (times = 0) };
}

describe('a run is never left running with nothing to move it', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  test('a step that fails by our fault until the queue gives up fails the run, without quoting the error, and frees the schedule', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 }, pageSize: 10 });
    const failures = failCalls(h.platform.records, 'getStates', Number.MAX_SAFE_INTEGER, () => new Error(`simulated store bug near ${TOKEN}`));
    const runId = await h.startSync('incremental');
    const run = await h.waitFor('the run to fail', async () => {
      const current = await h.run(runId);
      return current.finishedAt ? current : undefined;
    }, 20_000);
    expect(run.state).toBe('failed');
    expect(run.lastError).toMatch(/^SyncBridge could not run step .*: an internal error, retried with backoff until its tries ran out/);
    expect(JSON.stringify(run)).not.toContain('sekret');
    expect(JSON.stringify(run)).not.toContain('simulated store bug');
    expect(failures.failed()).toBe(10); // MAX_DELIVERY_COUNT tries (scheduled retries), then the run failed instead of a dead letter
    expect(h.platform.queue.depth(QUEUES.inbound).deadLettered).toBe(0);
    expect(await h.platform.runs.countActive('t1')).toBe(0);
    expect(h.telemetryLines.some((line) => line.includes('simulated store bug'))).toBe(true); // the exception is in the telemetry

    // The store is healthy again, and the hourly schedule fires: a new run starts and completes.
    failures.heal();
    const connection = (await h.platform.connections.get('shop'))!;
    await h.platform.connections.update({ ...connection, lastScheduledAt: new Date(Date.now() - 2 * 3600_000).toISOString() });
    const tick = await h.services.scheduler.tick();
    expect(tick.started).toHaveLength(1);
    expect((await h.waitForRun(tick.started[0])).state).toBe('done');
  }, 60_000);

  test('a store failure that may pass is retried with backoff past the queue delivery count, and the run completes', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 }, pageSize: 10, engine: { retry: { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: 20 } } });
    // More consecutive failures than the queue delivers one message: only a backoff retry outlives them.
    const failures = failCalls(h.platform.records, 'getStates', 12, () => new SyncBridgeError('transient', `Cosmos DB answered 503 (simulated) for ${TOKEN}.`));
    const run = await h.waitForRun(await h.startSync('full'), 30_000);
    expect(failures.failed()).toBe(12);
    expect(run.state).toBe('done');
    expect(run.counters).toEqual(EXPECTED_FULL(30));
    expect(h.platform.queue.depth(QUEUES.inbound).deadLettered).toBe(0);
    expect(run.entities[0].lastError).toMatch(/Cosmos DB answered 503/); // the page says why it waited
    expect(JSON.stringify(run)).not.toContain('sekret');
    await h.expectInStep();
  }, 60_000);

  test('a store failure that does not pass fails the run after the retry policy tries, with the reason', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 }, pageSize: 10, engine: { retry: { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: 4 } } });
    const failures = failCalls(h.platform.records, 'getStates', Number.MAX_SAFE_INTEGER, () => new SyncBridgeError('transient', 'Cosmos DB answered 503 (simulated).'));
    const run = await h.waitForRun(await h.startSync('full'), 30_000);
    expect(run.state).toBe('failed');
    expect(run.lastError).toBe('Gave up on customers page 1 after 4 attempts: Cosmos DB answered 503 (simulated).');
    expect(failures.failed()).toBe(4);
    expect(await h.platform.runs.countActive('t1')).toBe(0);
  }, 60_000);

  test('when the queue refuses a new run its first step, the start answers 503, the run waits queued, and the next tick starts it', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 }, pageSize: 10 });
    failCalls(h.platform.queue, 'send', 1, () => new SyncBridgeError('transient', 'Service Bus send to sync-inbound failed: ServiceBusy (simulated).'), (name) => name === QUEUES.inbound);
    const start = await h.api('POST', '/api/connections/shop/syncs', { mode: 'full' });
    expect(start.status).toBe(503);
    expect(start.body.error.message).toMatch(/^Run \S+ could not start: the queue did not accept its first step\. It is queued again and starts on the next scheduler tick/);
    const [run] = await h.platform.runs.listByConnection('shop');
    expect(run.state).toBe('queued');
    expect(run.startedAt).toBeNull();
    expect(h.platform.queue.depth(QUEUES.inbound).active).toBe(0);
    expect(await h.platform.runs.countActive('t1')).toBe(0);

    const again = await h.api('POST', '/api/connections/shop/syncs', { mode: 'full' });
    expect(again.status).toBe(409); // the same run waits; no second one
    expect(again.body.error.message).toContain(`${run.id} in state queued`);

    await h.services.scheduler.tick();
    const finished = await h.waitForRun(run.id);
    expect(finished.state).toBe('done');
    expect(finished.counters).toEqual(EXPECTED_FULL(30));
    await h.expectInStep();
  }, 60_000);

  test('when the queue refuses a resumed run its next step, the resume answers 503 and the run stays paused until resumed again', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 100 }, pageSize: 10 });
    await h.sandbox('POST', 'faults', { slowMs: 40 });
    const runId = await h.startSync('full');
    await h.waitFor('a few pages', async () => (await h.run(runId)).counters.fetched >= 20);
    expect((await h.api('POST', `/api/syncs/${runId}/pause`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300)); // the step in flight lands

    const refused = failCalls(h.platform.queue, 'send', 1, () => new SyncBridgeError('transient', 'Service Bus send to sync-inbound failed: ServiceBusy (simulated).'), (name) => name === QUEUES.inbound);
    const resume = await h.api('POST', `/api/syncs/${runId}/resume`);
    expect(refused.failed()).toBe(1);
    expect(resume.status).toBe(503);
    // Written for the caller (forCaller), then the trace it was logged under.
    expect(resume.body.error.message.startsWith(`Run ${runId} could not resume: the queue did not accept its next step. It is still paused; resume it again.`)).toBe(true);
    expect((await h.run(runId)).state).toBe('paused');

    await h.sandbox('POST', 'faults', { slowMs: 0 });
    expect((await h.api('POST', `/api/syncs/${runId}/resume`)).status).toBe(200);
    const run = await h.waitForRun(runId, 60_000);
    expect(run.state).toBe('done');
    expect(run.counters).toEqual(EXPECTED_FULL(100));
    await h.expectInStep();
  }, 90_000);
});

/**
 * Makes the real queue's send report success for the inbound step messages `drop` picks, without
 * sending them: a broker that lost a message it had accepted.
 */
function dropSteps(queue: object, drop: (message: InboundMessage) => boolean): { dropped: InboundMessage[] } {
  const object = queue as { send: (name: string, message: OutgoingMessage) => Promise<void> };
  const original = object.send.bind(queue);
  const dropped: InboundMessage[] = [];
  object.send = async (name, message) => {
    const body = message.body as InboundMessage;
    if (name === QUEUES.inbound && (body.kind === 'page' || body.kind === 'finalize') && drop(body)) {
      dropped.push(body);
      return;
    }
    return original(name, message);
  };
  return { dropped };
}

const GRACE_MS = 20 * 60_000; // the default stalledRunGraceMs

describe('the run watchdog: a running run whose step message was lost', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  /** Waits until nothing is in the inbound queue and no step is at work (the run stopped moving). */
  async function settled(runId: string): Promise<void> {
    let last = -1;
    await h.waitFor('the run to stop moving', async () => {
      const raw = (await h.platform.runs.get(runId))!;
      const depth = h.platform.queue.depth(QUEUES.inbound);
      const quiet = depth.active === 0 && depth.locked === 0 && raw.version === last;
      last = raw.version;
      if (!quiet) await sleep(100);
      return quiet;
    });
  }

  test('is re-driven by a tick once its step is past due plus the grace, and completes', async () => {
    const clock = new ManualClock();
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 }, pageSize: 10, clock });
    const loss = dropSteps(h.platform.queue, (m) => m.kind === 'page' && m.entity === 'customers' && m.page === 2 && !m.redrive);
    const runId = await h.startSync('full');
    await settled(runId);
    expect(loss.dropped).toHaveLength(1);
    expect((await h.platform.runs.get(runId))!.state).toBe('running');

    await h.services.scheduler.tick(); // not yet past due plus the grace: left alone
    expect((await h.platform.runs.get(runId))!.redrives ?? 0).toBe(0);

    clock.advance(GRACE_MS + 60_000);
    await h.services.scheduler.tick();
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('done');
    expect(run.counters).toEqual(EXPECTED_FULL(30));
    expect((await h.platform.runs.get(runId))!.redrives).toBe(0); // pages moved after the re-drive
    expect(h.telemetryLines.some((line) => line.includes('Run stalled'))).toBe(true);
    await h.expectInStep();
  }, 60_000);

  test('after maxRedrives re-sends that go nowhere, the run fails with the reason and frees its slot and connection', async () => {
    const clock = new ManualClock();
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 }, pageSize: 10, clock });
    const loss = dropSteps(h.platform.queue, (m) => m.kind === 'page' && m.entity === 'customers' && m.page === 2);
    const runId = await h.startSync('full');
    await settled(runId);
    for (let redrive = 1; redrive <= 3; redrive += 1) {
      clock.advance(GRACE_MS + 60_000);
      await h.services.scheduler.tick();
      expect(await h.platform.runs.get(runId)).toMatchObject({ state: 'running', redrives: redrive });
    }
    expect(loss.dropped.map((m) => m.redrive ?? 0)).toEqual([0, 1, 2, 3]); // fresh ids each time

    clock.advance(GRACE_MS + 60_000);
    await h.services.scheduler.tick();
    const run = (await h.platform.runs.get(runId))!;
    expect(run.state).toBe('failed');
    expect(run.lastError).toMatch(/^The run stalled: its next step was due at \S+ and never ran, and 3 re-sent step\(s\) did not move it either/);
    expect(await h.platform.runs.countActive('t1')).toBe(0);
    expect(await h.platform.runs.listOpenByConnection('shop')).toEqual([]);
  }, 60_000);
});

describe('the run watchdog: a run waiting for a long Retry-After', () => {
  const provider = useScriptedProvider((n) => (n === 1
    ? { status: 429, body: { error: 'slow down' }, headers: { 'retry-after': '3600' } }
    : { status: 200, body: { data: [{ id: 'a', name: 'a', updated_at: '2026-01-01T00:00:00Z' }], next_cursor: null } }));
  const { requests } = provider;
  let h: Harness;
  afterEach(async () => h?.close());

  test('is not re-driven before its due time, and completes when the wait is over', async () => {
    const clock = new ManualClock();
    h = await Harness.start({ sandbox: { recordsPerEntity: 1 }, clock });
    const created = await h.api('POST', '/api/connections', {
      id: 'waits', provider: 'sandbox', config: { baseUrl: provider.baseUrl, pageSize: 10 },
      credentials: { type: 'apiKey', apiKey: 'k' }, entities: [{ name: 'customers', direction: 'pull' }],
    });
    expect(created.status).toBe(201);
    const runId = await h.startSync('full', 'waits');
    await h.waitFor('the 429 to be rescheduled', async () => ((await h.platform.runs.get(runId))!.entities[0].lastError ? true : undefined));
    expect(requests).toHaveLength(1);

    // Well past the grace after the run's last write, still before the provider's reset.
    clock.advance(GRACE_MS + 10 * 60_000);
    await h.services.scheduler.tick();
    await sleep(300);
    expect((await h.platform.runs.get(runId))!.redrives ?? 0).toBe(0);
    expect(requests).toHaveLength(1);

    clock.advance(3600_000 - GRACE_MS - 10 * 60_000 + 1_000); // the wait is over: the scheduled step runs
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('done');
    expect(requests).toHaveLength(2);
    expect((await h.platform.runs.get(runId))!.redrives ?? 0).toBe(0);
  }, 60_000);
});
