import type { InboundMessage } from '../../shared/core/runs/inboundMessage';
import type { Run } from '../../shared/core/model';
import { QUEUES } from '../../shared/ports/queue';
import type { RecordStore } from '../../shared/ports/recordStore';
import type { RunStore } from '../../shared/ports/runStore';
import { ENTITIES, Harness } from '../support/harness';

/**
 * A full run's closing step against a cancel, and against a second copy of itself (a redelivery
 * after a lost lock). A review found that a cancel landing between the step's read of the run and
 * its deletion sweep cleared the run's seen-sets, so the sweep read "saw nothing" and tombstoned
 * every record of every entity of a run reported as cancelled (docs/sync-engine.md, "Cancelling a
 * run that is closing"). The hooks below wrap the real stores to land the cancel or the other copy
 * at the exact point; everything else is the real stack. Run on SQLite and on Cosmos DB (loopback).
 */
describe.each(['local', 'azure'] as const)('the closing step of a full run vs cancel and redelivery (%s platform)', (platform) => {
  let h: Harness;
  /** The customers deleted at the sandbox since the first full run: what a clean sweep removes. */
  let deleted: string[];

  beforeEach(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 6 }, pageSize: 10, platform });
    expect((await h.waitForRun(await h.startSync('full'))).state).toBe('done');
    ({ deleted } = await h.sandbox<{ deleted: string[] }>('POST', 'mutate', { entity: 'customers', delete: 2 }));
  }, 60_000);
  afterEach(async () => h?.close());

  /** Per entity: the external ids stored as tombstones. */
  async function tombstones(): Promise<Record<string, string[]>> {
    const result: Record<string, string[]> = {};
    for (const entity of ENTITIES) {
      const { records } = (await h.api('GET', `/api/connections/shop/records?entity=${entity}&limit=1000`)).body;
      expect(records).toHaveLength(6);
      result[entity] = records.filter((r: any) => r.metadata.deleted).map((r: any) => r.externalId).sort();
    }
    return result;
  }

  const nothingDeleted = Object.fromEntries(ENTITIES.map((e) => [e, []]));
  const onlyTheDeletedCustomers = () => ({ ...nothingDeleted, customers: [...deleted].sort() });

  /**
   * Runs `before` once, just before the first sweep of the run's closing step reaches the store;
   * `firstError` is what that sweep threw, if it did.
   */
  function beforeFirstSweep(before: (runId: string) => Promise<void>, after?: (runId: string) => Promise<void>): { firstError: () => unknown } {
    const records: RecordStore = h.platform.records;
    const sweep = records.sweepUnseen.bind(records);
    let fired = false;
    let firstError: unknown;
    records.sweepUnseen = async (runId, ...rest) => {
      const first = !fired;
      fired = true;
      if (first) await before(runId);
      const swept = await sweep(runId, ...rest).catch((error: unknown) => {
        if (first) firstError = error;
        throw error;
      });
      if (first && after) await after(runId);
      return swept;
    };
    return { firstError: () => firstError };
  }

  const finalizeMessage = (runId: string): InboundMessage => ({ kind: 'finalize', runId, attempt: 0 });

  /** Waits until the inbound queue is empty: every copy of every step has settled. */
  async function drained(): Promise<void> {
    await h.waitFor('the inbound queue to drain', async () => {
      const depth = h.platform.queue.depth(QUEUES.inbound);
      return depth.active === 0 && depth.scheduled === 0;
    });
  }

  test('a cancel arriving while the closing step is about to sweep is refused (409), and so is a pause: the run finishes and deletes only what the provider deleted', async () => {
    let cancel: { status: number; body: any } | undefined;
    let pause: { status: number; body: any } | undefined;
    beforeFirstSweep(async (runId) => {
      cancel = await h.api('POST', `/api/syncs/${runId}/cancel`);
      pause = await h.api('POST', `/api/syncs/${runId}/pause`);
    });
    const run = await h.waitForRun(await h.startSync('full'));

    expect(cancel?.status).toBe(409);
    expect(cancel?.body.error.message).toMatch(/finishing/);
    expect(pause?.status).toBe(409);
    expect(run.state).toBe('done');
    expect(run.entities.find((e) => e.entity === 'customers')!.counters.deleted).toBe(2);
    expect(await tombstones()).toEqual(onlyTheDeletedCustomers());
  }, 60_000);

  test('a cancel that wins the race against the closing step\'s claim cancels the run, and nothing is swept', async () => {
    // The cancel lands as the closing step writes its claim: the cancel's write goes first, the
    // claim loses the compare-and-set, reads the run again and finds it cancelled.
    const runs: RunStore = h.platform.runs;
    const update = runs.update.bind(runs);
    let cancel: { status: number; body: any } | undefined;
    let fired = false;
    runs.update = async (run: Run) => {
      if (run.finalizingAt && !fired) {
        fired = true;
        cancel = await h.api('POST', `/api/syncs/${run.id}/cancel`);
      }
      return update(run);
    };
    const runId = await h.startSync('full');
    await h.waitForRun(runId);
    await h.waitFor('the cancel answered', async () => cancel !== undefined); // its write lands before its answer
    await drained();
    const run = await h.run(runId);

    expect(cancel?.status).toBe(200);
    expect(run.state).toBe('cancelled');
    expect(run.entities.find((e) => e.entity === 'customers')!.counters.deleted).toBe(0);
    expect(await tombstones()).toEqual(nothingDeleted);
  }, 60_000);

  test('a second copy of the closing step that finishes the run while the first is between sweeps stops the first at its next entity', async () => {
    let second: string | undefined;
    beforeFirstSweep(async () => undefined, async (runId) => {
      second = await h.services.steps.handle(finalizeMessage(runId));
    });
    const runId = await h.startSync('full');
    await h.waitForRun(runId);
    await drained(); // the second copy finishes the run before the first one's step returns
    const run = await h.run(runId);

    expect(second).toBe('finalized');
    expect(run.state).toBe('done');
    expect(run.entities.find((e) => e.entity === 'customers')!.counters.deleted).toBe(2);
    expect(await tombstones()).toEqual(onlyTheDeletedCustomers());
  }, 60_000);

  test('a second copy of the closing step that finishes the run just before the first sweeps leaves the first no seen-set to sweep with', async () => {
    let second: string | undefined;
    const hook = beforeFirstSweep(async (runId) => {
      second = await h.services.steps.handle(finalizeMessage(runId));
    });
    const run = await h.waitForRun(await h.startSync('full'));
    // The first copy's sweep failed (no seen-set); the step runner found the run done and
    // completed the message without a retry.
    await drained();
    expect(String(hook.firstError())).toMatch(/no seen-set/);
    expect(h.platform.queue.depth(QUEUES.inbound).deadLettered).toBe(0);

    expect(second).toBe('finalized');
    expect(run.state).toBe('done');
    expect(run.entities.find((e) => e.entity === 'customers')!.counters.deleted).toBe(2);
    expect(await tombstones()).toEqual(onlyTheDeletedCustomers());
  }, 60_000);
});
