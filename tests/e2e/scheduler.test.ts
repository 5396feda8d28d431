import { scheduler as schedulerFunction } from '../../functions/scheduler';
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
    expect(third.skipped.map((s) => s.connectionId)).toContain('every-second');
    await h.sandbox('POST', 'faults', { slowMs: 0 });
    const run = await h.waitForRun(first.started[0], 60_000);
    expect(run.state).toBe('done');
    expect(run.trigger).toBe('schedule');
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

  test('the scheduler function is a real NCRONTAB timer (six fields, seconds first)', () => {
    expect(schedulerFunction.kind).toBe('timer');
    const schedule = (schedulerFunction.options as { schedule: string }).schedule;
    expect(schedule.split(' ')).toHaveLength(6);
  });
});
