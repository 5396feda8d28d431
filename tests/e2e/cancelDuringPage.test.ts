import { hasSeenSet } from '../support/seenSets';
import { QUEUES } from '../../shared/ports/queue';
import type { RecordStore } from '../../shared/ports/recordStore';
import { ENTITIES, Harness } from '../support/harness';

/**
 * A cancel landing while a page step of a full run is in flight: the step read the run as running,
 * the cancel cleared the run's seen-sets, and then the step marked its page into a fresh one. A
 * review found that set was never swept and never removed (docs/sync-engine.md, "Cancelling a run
 * that is closing"). Once a run has ended, none of its seen-sets may remain. The hook wraps the
 * real record store to land the cancel at that point; the rest is the real stack, on SQLite and on
 * Cosmos DB (loopback).
 */
describe.each(['local', 'azure'] as const)('a page step in flight when its full run is cancelled (%s platform)', (platform) => {
  let h: Harness;

  beforeEach(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 }, pageSize: 10, platform });
  }, 60_000);
  afterEach(async () => h?.close());

  /**
   * Cancels the run just before the second page's ids reach the store; `afterMark` runs once,
   * right after that mark.
   */
  function cancelBeforeSecondMark(afterMark?: () => void): { cancel: () => { status: number } | undefined } {
    const records: RecordStore = h.platform.records;
    const mark = records.markSeen.bind(records);
    let calls = 0;
    let cancel: { status: number } | undefined;
    records.markSeen = async (runId, scope, ids) => {
      calls += 1;
      if (calls !== 2) return mark(runId, scope, ids);
      cancel = await h.api('POST', `/api/syncs/${runId}/cancel`);
      await mark(runId, scope, ids);
      afterMark?.();
    };
    return { cancel: () => cancel };
  }

  async function settled(runId: string): Promise<void> {
    await h.waitFor('the run to be cancelled', async () => (await h.run(runId)).state === 'cancelled');
    await h.waitFor('the inbound queue to drain', async () => {
      const depth = h.platform.queue.depth(QUEUES.inbound);
      return depth.active === 0 && depth.scheduled === 0;
    });
  }

  test('the late step removes the page of ids it marked after the cancel', async () => {
    const hook = cancelBeforeSecondMark();
    const runId = await h.startSync('full');
    await settled(runId);

    expect(hook.cancel()?.status).toBe(200);
    for (const entity of ENTITIES) expect(await hasSeenSet(h.platform.records, { tenantId: 't1', connectionId: 'shop', entity }, runId)).toBe(false);
  }, 60_000);

  test("the cancelled run's view counts only the page it finished before the cancel, not the late one", async () => {
    const hook = cancelBeforeSecondMark();
    const runId = await h.startSync('full');
    await settled(runId);

    expect(hook.cancel()?.status).toBe(200);
    const run = await h.run(runId);
    expect(run.state).toBe('cancelled');
    const customers = run.entities.find((e) => e.entity === 'customers')!;
    // Page 1 (10 records) checkpointed while running; page 2 was applied after the cancel.
    expect({ pages: customers.pages, fetched: customers.counters.fetched, status: customers.status }).toEqual({ pages: 1, fetched: 10, status: 'running' });
    expect(run.counters.fetched).toBe(10);
  }, 60_000);

  test('a late step that fails right after its mark leaves nothing either: its failure handling removes it', async () => {
    let failed = false;
    const hook = cancelBeforeSecondMark(() => {
      failed = true;
      throw new Error('simulated store timeout after the write committed');
    });
    const runId = await h.startSync('full');
    await settled(runId);
    await h.waitFor('the failed step to settle', async () => failed && h.platform.queue.depth(QUEUES.inbound).locked === 0);

    expect(hook.cancel()?.status).toBe(200);
    expect(h.platform.queue.depth(QUEUES.inbound).deadLettered).toBe(0);
    for (const entity of ENTITIES) expect(await hasSeenSet(h.platform.records, { tenantId: 't1', connectionId: 'shop', entity }, runId)).toBe(false);
  }, 60_000);
});
