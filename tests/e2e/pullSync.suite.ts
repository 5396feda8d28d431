import { Harness } from '../support/harness';

/**
 * The end-to-end pull sync, run once per platform (pullSync.test.ts, pullSyncAzure.test.ts): the
 * same functions, engine and assertions over the embedded stores or the Azure implementations.
 */
export function pullSyncSuite(platform: 'local' | 'azure'): void {
describe(`pull sync end to end (sandbox over HTTP → local host → ${platform === 'local' ? 'SQLite' : 'Cosmos DB, Key Vault, Application Insights'})`, () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 230 }, pageSize: 50, platform });
  });
  afterAll(async () => h.close());

  test('a full sync copies every record of every entity exactly, with exact counters', async () => {
    const run = await h.waitForRun(await h.startSync('full'));
    expect(run.state).toBe('done');
    expect(run.counters).toEqual({ fetched: 1150, created: 1150, updated: 0, unchanged: 0, deleted: 0, failed: 0 });
    for (const entity of run.entities) {
      expect(entity).toMatchObject({ status: 'done', pages: 5, total: 230 });
    }
    expect(run.progress).toBe(1);
    await h.expectInStep();
  });

  test('a second full sync of unchanged data writes nothing and counts every record unchanged', async () => {
    const before = await h.api('GET', '/api/connections/shop/records?entity=orders&limit=1000');
    const run = await h.waitForRun(await h.startSync('full'));
    expect(run.state).toBe('done');
    expect(run.counters).toEqual({ fetched: 1150, created: 0, updated: 0, unchanged: 1150, deleted: 0, failed: 0 });
    const after = await h.api('GET', '/api/connections/shop/records?entity=orders&limit=1000');
    expect(after.body.records.map((r: any) => r.metadata)).toEqual(before.body.records.map((r: any) => r.metadata));
  });

  test('an incremental sync picks up creates, updates and deletes, including same-second changes at the cursor boundary', async () => {
    // Hold the sandbox clock still: every change below lands in one and the same second.
    await h.sandbox('POST', 'clock', { now: '2026-11-23T12:00:00Z' });
    const first = await h.sandbox('POST', 'mutate', { entity: 'customers', create: 7, update: 11, delete: 5 });
    const run1 = await h.waitForRun(await h.startSync('incremental'));
    expect(run1.state).toBe('done');
    const customers1 = run1.entities.find((e) => e.entity === 'customers')!;
    expect(customers1.counters).toMatchObject({ created: 7, updated: 11, deleted: 5, failed: 0 });
    expect(customers1.highWater).toBe('2026-11-23T12:00:00Z');
    await h.expectInStep();

    // More changes in the very second the last run's cursor ended on.
    const second = await h.sandbox('POST', 'mutate', { entity: 'customers', create: 3, update: 4, delete: 2 });
    expect(second.updated.every((id: string) => !first.deleted.includes(id))).toBe(true);
    const run2 = await h.waitForRun(await h.startSync('incremental'));
    const customers2 = run2.entities.find((e) => e.entity === 'customers')!;
    expect(customers2.since! <= '2026-11-23T12:00:00Z').toBe(true);
    expect(customers2.counters).toMatchObject({ created: 3, updated: 4, deleted: 2, failed: 0 });
    // The records re-read at the boundary are counted as unchanged, never as new or updated.
    expect(customers2.counters.fetched).toBe(customers2.counters.created + customers2.counters.updated + customers2.counters.deleted + customers2.counters.unchanged);
    await h.expectInStep();
    await h.sandbox('POST', 'clock', { now: null });
  });

  test('a full sync tombstones records the provider no longer has; a cancelled one deletes nothing', async () => {
    // Deletions the incremental path has not seen yet: a full pass must find them by absence.
    const { deleted } = await h.sandbox('POST', 'mutate', { entity: 'products', delete: 6 });
    await h.sandbox('POST', 'faults', { slowMs: 150 }); // slow enough that the run is surely mid-way
    const cancelled = await h.startSync('full');
    const view = await h.api('POST', `/api/syncs/${cancelled}/cancel`);
    expect(view.status).toBe(200);
    expect(view.body.state).toBe('cancelled');
    await h.sandbox('POST', 'faults', { slowMs: 0 });
    await new Promise((r) => setTimeout(r, 400)); // the step in flight finishes and is dropped
    expect((await h.run(cancelled)).state).toBe('cancelled');
    const stillThere = await h.liveRecords('products');
    for (const id of deleted) expect(stillThere.has(id)).toBe(true);

    const run = await h.waitForRun(await h.startSync('full'));
    expect(run.state).toBe('done');
    expect(run.entities.find((e) => e.entity === 'products')!.counters.deleted).toBe(6);
    await h.expectInStep();
    const page = await h.api('GET', `/api/connections/shop/records?entity=products&limit=1000`);
    const tombstones = page.body.records.filter((r: any) => r.metadata.deleted);
    expect(tombstones.map((r: any) => r.externalId).sort()).toEqual([...deleted].sort());
    expect(tombstones.every((r: any) => r.metadata.lastAction === 'deleted' && r.metadata.deletedAt)).toBe(true);
  });

  test('records API: modifiedAfter filters, cursors page stably, metadata is complete', async () => {
    const all = await h.api('GET', '/api/connections/shop/records?entity=inventory&limit=1000');
    expect(all.status).toBe(200);
    const sample = all.body.records[0];
    expect(Object.keys(sample.metadata).sort()).toEqual(['deleted', 'deletedAt', 'firstSeenAt', 'hash', 'id', 'lastAction', 'lastModifiedAt', 'movedTo', 'previousIds', 'sourceUpdatedAt', 'version'].sort());
    const pageIds: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page: any = await h.api('GET', `/api/connections/shop/records?entity=inventory&limit=17${q}`);
      pageIds.push(...page.body.records.map((r: any) => r.externalId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(pageIds).toEqual(all.body.records.map((r: any) => r.externalId));
    expect(new Set(pageIds).size).toBe(pageIds.length);

    const latest = all.body.records.map((r: any) => r.metadata.lastModifiedAt).sort().at(-1);
    const none = await h.api('GET', `/api/connections/shop/records?entity=inventory&modifiedAfter=${encodeURIComponent(latest)}`);
    expect(none.body.records).toEqual([]);
  });

  test('lists a connection’s runs newest first', async () => {
    const list = await h.api('GET', '/api/connections/shop/syncs');
    expect(list.status).toBe(200);
    const created = list.body.runs.map((r: any) => r.createdAt);
    expect(created).toEqual([...created].sort().reverse());
    expect(list.body.runs.length).toBeGreaterThanOrEqual(5);
  });
});
}
