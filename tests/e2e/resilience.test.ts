import { QUEUES } from '../../shared/ports/queue';
import type { Run } from '../../shared/core/model';
import { Harness } from '../support/harness';

const EXPECTED_FULL = (n: number) => ({ fetched: n * 5, created: n * 5, updated: 0, unchanged: 0, deleted: 0, failed: 0 });

describe('a pull sync survives what real providers and real hosts do', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  test('injected 5xx, 429, slow and truncated responses are retried until the copy is exact', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 120 }, pageSize: 20 });
    await h.sandbox('POST', 'faults', { error5xxRate: 0.2, rate429: 0.1, truncateRate: 0.1, slowMs: 2, seed: 7 });
    const run = await h.waitForRun(await h.startSync('full'), 60_000);
    expect(run.state).toBe('done');
    expect(run.counters).toEqual(EXPECTED_FULL(120));
    await h.sandbox('POST', 'faults', { error5xxRate: 0, rate429: 0, truncateRate: 0, slowMs: 0 });
    await h.expectInStep();
    const stats = await h.sandbox('GET', 'stats');
    // The faults really happened: the sandbox answered errors that the engine then retried.
    expect(stats.injected.error5xx).toBeGreaterThan(0);
    expect(stats.injected.rate429).toBeGreaterThan(0);
    expect(stats.injected.truncated).toBeGreaterThan(0);
  });

  test('rate limits are obeyed from the headers, not discovered by 429s', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 40, rateLimit: { requests: 8, windowSeconds: 1 } }, pageSize: 5 });
    const started = Date.now();
    const run = await h.waitForRun(await h.startSync('full'), 60_000);
    expect(run.state).toBe('done');
    expect(run.counters).toEqual(EXPECTED_FULL(40));
    // 5 entities × 9 requests (8 full pages and an empty last one) = 45 requests at 8 per second.
    expect(Date.now() - started).toBeGreaterThanOrEqual(4000);
    const stats = await h.sandbox('GET', 'stats');
    expect(stats.injected.rateLimited).toBe(0);
    expect(stats.byStatus['429'] ?? 0).toBe(0);
    await h.expectInStep();
  });

  test('duplicate step messages delivered mid-run change nothing', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 100 }, pageSize: 10 });
    await h.sandbox('POST', 'faults', { slowMs: 20 });
    const runId = await h.startSync('full');
    // Re-deliver every page message of every entity, with fresh message ids so the broker's
    // duplicate detection does not catch them: only the engine's own guards stand between them and double counting.
    const duplicates = [];
    for (const entity of ['customers', 'products', 'orders', 'inventory', 'payments']) {
      for (let page = 1; page <= 11; page += 1) {
        duplicates.push({ body: { kind: 'page', runId, entity, page, attempt: 0, waits: 0 }, messageId: `dup-${entity}-${page}`, sessionId: 'shop' });
      }
    }
    duplicates.push({ body: { kind: 'finalize', runId, attempt: 0 }, messageId: 'dup-finalize', sessionId: 'shop' });
    await h.platform.queue.send(QUEUES.inbound, duplicates);
    const run = await h.waitForRun(runId, 60_000);
    expect(run.state).toBe('done');
    expect(run.counters).toEqual(EXPECTED_FULL(100));
    // And once more after the end, twice each.
    await h.platform.queue.send(QUEUES.inbound, duplicates.map((d) => ({ ...d, messageId: `${d.messageId}-late` })));
    await h.waitFor('the queue to drain', async () => h.platform.queue.depth(QUEUES.inbound).active === 0);
    expect((await h.run(runId)).counters).toEqual(EXPECTED_FULL(100));
    await h.sandbox('POST', 'faults', { slowMs: 0 });
    await h.expectInStep();
  });

  test('a step that crashes after writing records but before its checkpoint is redelivered and counted once', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 60 }, pageSize: 20 });
    const runs = h.platform.runs;
    const update = runs.update.bind(runs);
    let crashes = 0;
    runs.update = async (run: Run) => {
      // Crash exactly once, on the checkpoint of page 2 of orders: its records are already written.
      if (crashes === 0 && run.entities.some((e) => e.entity === 'orders' && e.pages === 2)) {
        crashes += 1;
        throw new Error('simulated crash between the record write and the checkpoint');
      }
      return update(run);
    };
    const run = await h.waitForRun(await h.startSync('full'), 60_000);
    expect(crashes).toBe(1);
    expect(run.state).toBe('done');
    expect(run.counters).toEqual(EXPECTED_FULL(60));
    await h.expectInStep();
  });

  test('pause holds a run where it is, resume continues it, and the result is exact', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 100 }, pageSize: 10 });
    await h.sandbox('POST', 'faults', { slowMs: 40 });
    const runId = await h.startSync('full');
    await h.waitFor('a few pages', async () => (await h.run(runId)).counters.fetched >= 20);
    const paused = await h.api('POST', `/api/syncs/${runId}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.state).toBe('paused');
    await new Promise((r) => setTimeout(r, 300)); // the step in flight lands
    const held = (await h.run(runId)).counters.fetched;
    await new Promise((r) => setTimeout(r, 500));
    expect((await h.run(runId)).counters.fetched).toBe(held);
    expect((await h.api('POST', `/api/syncs/${runId}/pause`)).status).toBe(409);

    const resumed = await h.api('POST', `/api/syncs/${runId}/resume`);
    expect(resumed.body.state).toBe('running');
    await h.sandbox('POST', 'faults', { slowMs: 0 });
    const run = await h.waitForRun(runId, 60_000);
    expect(run.state).toBe('done');
    expect(run.counters).toEqual(EXPECTED_FULL(100));
    await h.expectInStep();
  });

  test('a provider that refuses our credentials fails the run with the reason, and deletes nothing', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 } });
    expect((await h.waitForRun(await h.startSync('full'))).state).toBe('done');
    await h.api('POST', '/api/connections', {
      id: 'bad-key', provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, credentials: { type: 'apiKey', apiKey: 'key-that-is-wrong-5f3a' },
    });
    const run = await h.waitForRun(await h.startSync('full', 'bad-key'));
    expect(run.state).toBe('failed');
    expect(run.lastError).toMatch(/refused our credentials/);
    expect(JSON.stringify(run)).not.toContain('key-that-is-wrong-5f3a');
    await h.expectInStep(); // the healthy connection is untouched
  });
});
