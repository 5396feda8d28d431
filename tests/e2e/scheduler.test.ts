import { scheduler as schedulerFunction } from '../../functions/scheduler';
import type { Run } from '../../shared/core/model';
import { QUEUES } from '../../shared/ports/queue';
import { Harness } from '../support/harness';

describe('scheduler: own cron per connection, one run per connection, a per-tenant limit', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  test('starts a run for a due connection, and never a second while one is open', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 } });
    await h.api('POST', '/api/connections', {
      id: 'every-second', provider: 'sandbox', config: { baseUrl: h.sandboxUrl, pageSize: 10 },
      credentials: { type: 'apiKey', apiKey: 'sandbox-api-key' }, schedule: { cron: '* * * * * *', timeZone: 'Europe/Berlin', mode: 'full' },
    });
    await new Promise((r) => setTimeout(r, 1100)); // let the schedule fire once after creation
    await h.sandbox('POST', 'faults', { slowMs: 200 }); // 20 pages: the run stays open for seconds
    const first = await h.services.scheduler.tick();
    expect(first.started).toHaveLength(1);
    const again = await h.services.scheduler.tick();
    expect(again.started).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 1100));
    const third = await h.services.scheduler.tick();
    expect(third.started).toHaveLength(0);
    // Due again while the run is open: kept, and caught up by the first tick after the run ends.
    expect(third.waiting.map((s) => s.connectionId)).toContain('every-second');
    await h.sandbox('POST', 'faults', { slowMs: 0 });
    const run = await h.waitForRun(first.started[0], 60_000);
    expect(run.state).toBe('done');
    expect(run.trigger).toBe('schedule');
    const catchUp = await h.services.scheduler.tick();
    expect(catchUp.started).toHaveLength(1);
    expect((await h.waitForRun(catchUp.started[0], 60_000)).state).toBe('done');
    // The default hourly schedule of the test connection has not fired since it was created.
    expect((await h.api('GET', '/api/connections/shop/syncs')).body.runs.filter((r: any) => r.trigger === 'schedule')).toEqual([]);
  });

  test('at most maxActiveRuns per tenant run at once; the rest wait as queued and then run', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 } });
    await h.services.platform.tenants.createTenant({ id: 'small', name: 'Small tenant', maxActiveRuns: 2, createdAt: new Date().toISOString() });
    const { key } = await h.services.tenants.issueApiKey('small', 'admin', 'small admin');
    for (let i = 0; i < 4; i += 1) {
      const created = await h.api('POST', '/api/connections', {
        id: `small-${i}`, provider: 'sandbox', config: { baseUrl: h.sandboxUrl, pageSize: 10 }, credentials: { type: 'apiKey', apiKey: 'sandbox-api-key' },
      }, key);
      expect(created.status).toBe(201);
    }
    await h.sandbox('POST', 'faults', { slowMs: 60 });
    const runIds: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const response = await h.api('POST', `/api/connections/small-${i}/syncs`, { mode: 'full' }, key);
      expect(response.status).toBe(202);
      runIds.push(response.body.runId);
    }
    const states = await Promise.all(runIds.map(async (id) => (await h.api('GET', `/api/syncs/${id}`, undefined, key)).body.state));
    expect(states.filter((s) => s === 'running')).toHaveLength(2);
    expect(states.filter((s) => s === 'queued')).toHaveLength(2);
    expect(await h.services.platform.runs.countActive('small')).toBe(2);
    await h.sandbox('POST', 'faults', { slowMs: 0 });
    for (const id of runIds) expect((await h.waitForRun(id, 60_000, key)).state).toBe('done');
  });

  /** Two hourly connections whose last scheduled action was two hours ago: both are due now. */
  async function twoDueConnections(): Promise<void> {
    for (const id of ['a-con', 'b-con']) {
      const made = await h.api('POST', '/api/connections', {
        id, provider: 'sandbox', config: { baseUrl: h.sandboxUrl, pageSize: 10 }, credentials: { type: 'apiKey', apiKey: 'sandbox-api-key' },
        schedule: { cron: '0 0 * * * *', timeZone: 'UTC', mode: 'incremental' },
      });
      expect(made.status).toBe(201);
      const connection = (await h.platform.connections.get(id))!;
      await h.platform.connections.update({ ...connection, lastScheduledAt: new Date(Date.now() - 2 * 3600_000).toISOString() });
    }
  }

  test('a start that fails before its run exists does not stop the tick, and the next tick starts it', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 } });
    await twoDueConnections();
    const before = (await h.platform.connections.get('a-con'))!.lastScheduledAt;
    // A transient store error on creating a-con's run (the tick reaches a-con first: ids in order).
    const runs = h.platform.runs;
    const create = runs.create.bind(runs);
    let failures = 0;
    runs.create = async (run: Run) => {
      if (run.connectionId === 'a-con' && failures === 0) {
        failures += 1;
        throw new Error('simulated transient store error');
      }
      return create(run);
    };
    const first = await h.services.scheduler.tick();
    expect(failures).toBe(1);
    expect(first.failed).toEqual([{ connectionId: 'a-con', reason: 'simulated transient store error' }]);
    expect(first.started).toHaveLength(1);
    expect((await h.platform.runs.get(first.started[0]))!.connectionId).toBe('b-con');
    expect(await h.platform.runs.listByConnection('a-con')).toEqual([]);
    expect((await h.platform.connections.get('a-con'))!.lastScheduledAt).toBe(before); // the occurrence was given back
    await h.waitFor('the failure in telemetry', async () => h.telemetryLines.some((line) => line.includes('simulated transient store error') && line.includes('a-con')));

    const second = await h.services.scheduler.tick();
    expect(second.failed).toEqual([]);
    expect(second.started).toHaveLength(1);
    const retried = await h.waitForRun(second.started[0], 60_000);
    expect(retried.connectionId).toBe('a-con');
    expect(retried.trigger).toBe('schedule');
    expect(retried.state).toBe('done');
    expect((await h.waitForRun(first.started[0], 60_000)).state).toBe('done');
    // Both occurrences are now spent: a third tick starts nothing.
    expect((await h.services.scheduler.tick()).started).toEqual([]);
  });

  test('a start that fails after its run exists does not stop the tick, and that occurrence stays spent', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 } });
    await twoDueConnections();
    // The broker refuses a-con's first step message: its run exists but was never enqueued.
    const queue = h.platform.queue;
    const send = queue.send.bind(queue);
    let refused = 0;
    queue.send = async (name: string, messages: any) => {
      const first = Array.isArray(messages) ? messages[0] : messages;
      if (name === QUEUES.inbound && first?.sessionId === 'a-con' && refused === 0) {
        refused += 1;
        throw new Error('ServiceBusy: simulated transient broker error');
      }
      return send(name, messages);
    };
    const first = await h.services.scheduler.tick();
    expect(refused).toBe(1);
    expect(first.failed.map((f) => f.connectionId)).toEqual(['a-con']);
    expect(first.started).toHaveLength(1);
    expect((await h.waitForRun(first.started[0], 60_000)).connectionId).toBe('b-con');
    // The refused start put a-con's run back to queued (docs/sync-engine.md): it carries the
    // occurrence, and is started from the queue (here when b-con's run ended), not by a new run.
    const aRuns = await h.platform.runs.listByConnection('a-con');
    expect(aRuns).toHaveLength(1);
    expect((await h.waitForRun(aRuns[0].id, 60_000)).state).toBe('done');
    const second = await h.services.scheduler.tick();
    expect(second.started).toEqual([]);
    expect(second.failed).toEqual([]);
    expect(await h.platform.runs.listByConnection('a-con')).toHaveLength(1);
  });

  test('two scheduler ticks racing for the same occurrences both finish, and each connection gets one run', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 } });
    await twoDueConnections();
    const [one, two] = await Promise.all([h.services.scheduler.tick(), h.services.scheduler.tick()]);
    const started = [...one.started, ...two.started];
    expect(started).toHaveLength(2);
    const owners = await Promise.all(started.map(async (id) => (await h.waitForRun(id, 60_000)).connectionId));
    expect(owners.sort()).toEqual(['a-con', 'b-con']);
    expect([...one.failed, ...two.failed]).toEqual([]);
  });

  test('the scheduler function is a real NCRONTAB timer (six fields, seconds first)', () => {
    expect(schedulerFunction.kind).toBe('timer');
    const schedule = (schedulerFunction.options as { schedule: string }).schedule;
    expect(schedule.split(' ')).toHaveLength(6);
  });
});
