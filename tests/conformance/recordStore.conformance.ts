import { contentHash } from '../../shared/core/hash';
import { recordId } from '../../shared/core/ids';
import type { JsonObject, RecordScope, SyncRecord } from '../../shared/core/model';
import { MAX_CONDITIONAL_WRITE, recordWriteBytes, type RecordStore } from '../../shared/ports/recordStore';
import { expectSyncBridgeError, uniqueId, type StoreFactory, type StoreFixture } from './fixtures';

const T0 = Date.parse('2026-03-01T09:00:00.000Z');

/** An ISO time `seconds` after the suite's origin; every record time in the suite comes from here. */
function at(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString();
}

/** A complete stored record of the scope, with fields to override; shared with the local store's own tests. */
export function makeRecord(scope: RecordScope, externalId: string, overrides: Partial<SyncRecord> = {}): SyncRecord {
  const data: JsonObject = overrides.data ?? { name: `Customer ${externalId}`, tags: ['a', 'b'], address: { city: 'Lyon', zip: null } };
  return {
    ...scope,
    id: recordId(scope.tenantId, scope.connectionId, scope.entity, externalId),
    externalId,
    data,
    hash: contentHash(data),
    rawHash: null,
    version: 1,
    deleted: false,
    deletedAt: null,
    firstSeenAt: at(0),
    lastModifiedAt: at(0),
    lastAction: 'added',
    sourceUpdatedAt: null,
    lastStepId: 'run_1:customers:1',
    ...overrides,
  };
}

type List = RecordStore['list'];

/** Every record of a listing, page by page, following nextCursor. */
async function listAll(list: List, query: Omit<Parameters<List>[0], 'cursor'>): Promise<SyncRecord[]> {
  const all: SyncRecord[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages += 1) {
    const page = await list({ ...query, cursor });
    all.push(...page.records);
    if (!page.nextCursor) return all;
    cursor = page.nextCursor;
  }
  throw new Error('list never ended');
}

/**
 * The RecordStore port's semantics (shared/ports/recordStore.ts), run against every implementation.
 */
export function recordStoreConformance(name: string, factory: StoreFactory<RecordStore>): void {
  describe(`RecordStore conformance: ${name}`, () => {
    let fixture: StoreFixture<RecordStore>;
    let store: RecordStore;
    let scope: RecordScope;

    /**
     * `list` as a polling client sees it once every write so far has settled. A store may hold
     * back what was stamped within its settled horizon of its clock (RecordStore; Cosmos DB does),
     * so with a movable clock the suite reads a day after the suite's record times and then puts
     * the clock back, where it stays behind every time the suite proposes (at(…)), which a store
     * that stamps no earlier than its clock therefore keeps.
     */
    const list: List = async (query) => {
      const { clock } = fixture;
      if (!clock) return store.list(query);
      const was = clock.now();
      clock.set(new Date(T0 + 86_400_000));
      try {
        return await store.list(query);
      } finally {
        clock.set(was);
      }
    };

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
      scope = { tenantId: uniqueId('ten'), connectionId: uniqueId('con'), entity: 'customers' };
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    describe('write and get', () => {
      it('returns a written record field for field, payload included', async () => {
        const record = makeRecord(scope, 'c1', { sourceUpdatedAt: '2026-02-28T10:00:00Z', data: { name: 'Ada', n: 3, nested: { list: [1, { x: true }] } } });
        await store.write([record]);
        expect(await store.get(scope, 'c1')).toEqual(record);
      });

      it('returns undefined for an external id it never stored', async () => {
        await store.write([makeRecord(scope, 'c1')]);
        expect(await store.get(scope, 'c2')).toBeUndefined();
      });

      it('upserts by id: a second write replaces the record instead of adding one', async () => {
        await store.write([makeRecord(scope, 'c1')]);
        const changed = makeRecord(scope, 'c1', { data: { name: 'Renamed' }, hash: contentHash({ name: 'Renamed' }), version: 2, lastAction: 'updated', lastModifiedAt: at(60) });
        await store.write([changed]);
        expect(await store.get(scope, 'c1')).toEqual(changed);
        expect(await store.count(scope)).toBe(1);
      });

      it('stores a tombstone with its deletion time', async () => {
        const tombstone = makeRecord(scope, 'c1', { deleted: true, deletedAt: at(5), lastAction: 'deleted', version: 2, data: {} });
        await store.write([tombstone]);
        expect(await store.get(scope, 'c1')).toEqual(tombstone);
      });

      it('writes a batch of 1,000 records in one call', async () => {
        const batch = Array.from({ length: 1000 }, (_, i) => makeRecord(scope, `c${i}`));
        await store.write(batch);
        expect(await store.count(scope)).toBe(1000);
        expect(await store.get(scope, 'c999')).toEqual(batch[999]);
      });

      it('stores the JSON text the caller already made, and reads it back as the data', async () => {
        const data = { b: 2, a: { z: [1, 'x'], y: null } };
        await store.write([{ ...makeRecord(scope, 'j', { data }), dataJson: JSON.stringify(data) }]);
        const stored = await store.get(scope, 'j');
        expect(stored!.data).toEqual(data);
        expect(stored).not.toHaveProperty('dataJson');
      });

      it('accepts an empty batch', async () => {
        await store.write([]);
        expect(await store.count(scope)).toBe(0);
      });
    });

    describe('getStates', () => {
      it('returns the change-detection state of stored records and leaves missing ids out', async () => {
        const a = makeRecord(scope, 'a', { version: 3, lastAction: 'updated', lastStepId: 'run_9:customers:4', firstSeenAt: at(-100) });
        const b = makeRecord(scope, 'b', { deleted: true, deletedAt: at(1), lastAction: 'deleted', version: 2 });
        await store.write([a, b]);
        const states = await store.getStates(scope, ['a', 'b', 'missing']);
        expect([...states.keys()].sort()).toEqual(['a', 'b']);
        expect(states.get('a')).toEqual({ externalId: 'a', hash: a.hash, rawHash: null, version: 3, deleted: false, lastAction: 'updated', lastStepId: 'run_9:customers:4', firstSeenAt: at(-100), revision: expect.any(String), sourceUpdatedAt: null });
        expect(states.get('b')).toMatchObject({ externalId: 'b', deleted: true, lastAction: 'deleted', version: 2 });
      });

      it('returns the raw hash as written, for the cheap unchanged check', async () => {
        await store.write([makeRecord(scope, 'a', { rawHash: 'f'.repeat(64) }), makeRecord(scope, 'b')]);
        const states = await store.getStates(scope, ['a', 'b']);
        expect(states.get('a')!.rawHash).toBe('f'.repeat(64));
        expect(states.get('b')!.rawHash).toBeNull();
        expect((await store.get(scope, 'a'))!.rawHash).toBe('f'.repeat(64));
      });

      it("returns the provider's time of the stored state as written (a tombstone's too), null when none", async () => {
        await store.write([
          makeRecord(scope, 'a', { sourceUpdatedAt: '2026-03-01T10:00:05.000Z' }),
          makeRecord(scope, 'b', { deleted: true, deletedAt: at(1), lastAction: 'deleted', sourceUpdatedAt: '2026-03-01T10:00:10Z' }),
          makeRecord(scope, 'c', { sourceUpdatedAt: null }),
          makeRecord(scope, 'd'),
        ]);
        const states = await store.getStates(scope, ['a', 'b', 'c', 'd']);
        expect(states.get('a')!.sourceUpdatedAt).toBe('2026-03-01T10:00:05.000Z');
        expect(states.get('b')!.sourceUpdatedAt).toBe('2026-03-01T10:00:10Z');
        expect(states.get('c')!.sourceUpdatedAt).toBeNull();
        expect(states.get('d')!.sourceUpdatedAt).toBeNull();
      });

      it('never returns payloads', async () => {
        await store.write([makeRecord(scope, 'a')]);
        const state = (await store.getStates(scope, ['a'])).get('a') as unknown as Record<string, unknown>;
        expect(state).toBeDefined();
        expect(state).not.toHaveProperty('data');
      });

      it('reads 1,000 ids in one call', async () => {
        await store.write(Array.from({ length: 1000 }, (_, i) => makeRecord(scope, `c${i}`)));
        const ids = Array.from({ length: 1000 }, (_, i) => `c${i}`);
        const states = await store.getStates(scope, ids);
        expect(states.size).toBe(1000);
        expect(states.get('c500')?.externalId).toBe('c500');
      });

      it('reads one id as it reads it among others (a webhook delivery reads one): the same state, none for a missing or differently spelled id', async () => {
        const a = makeRecord(scope, 'a"b', { version: 3, lastAction: 'updated', rawHash: 'f'.repeat(64), sourceUpdatedAt: '2026-03-01T10:00:05.000Z' });
        const b = makeRecord(scope, 'zé-✓', { deleted: true, deletedAt: at(1), lastAction: 'deleted', version: 2 });
        await store.write([a, b]);
        const together = await store.getStates(scope, ['a"b', 'zé-✓']);
        for (const id of ['a"b', 'zé-✓']) expect(await store.getStates(scope, [id])).toEqual(new Map([[id, together.get(id)]]));
        expect((await store.getStates(scope, ['A"B'])).size).toBe(0);
        expect((await store.getStates(scope, ['missing'])).size).toBe(0);
      });

      it('returns an empty map for no ids', async () => {
        await store.write([makeRecord(scope, 'a')]);
        expect((await store.getStates(scope, [])).size).toBe(0);
      });

      it('treats external ids as exact strings (case, quotes, unicode)', async () => {
        const ids = ['Abc', 'abc', 'a"b', "it's", 'zé-✓', 'with space'];
        await store.write(ids.map((id) => makeRecord(scope, id)));
        const states = await store.getStates(scope, ['ABC', ...ids]);
        expect([...states.keys()].sort()).toEqual([...ids].sort());
      });
    });

    describe('tenant and scope isolation', () => {
      it('never shows a record to another tenant, connection or entity with the same external id', async () => {
        const record = makeRecord(scope, 'shared-id');
        await store.write([record]);
        const others: RecordScope[] = [
          { ...scope, tenantId: uniqueId('other-ten') },
          { ...scope, connectionId: uniqueId('other-con') },
          { ...scope, entity: 'orders' },
        ];
        for (const other of others) {
          expect(await store.get(other, 'shared-id')).toBeUndefined();
          expect((await store.getStates(other, ['shared-id'])).size).toBe(0);
          expect(await store.count(other, { includeDeleted: true })).toBe(0);
          expect((await list({ tenantId: other.tenantId, connectionId: other.connectionId, entity: other.entity, limit: 10 })).records).toEqual([]);
        }
        // A connection-wide listing under another tenant sees nothing either.
        const foreign = await list({ tenantId: others[0].tenantId, connectionId: scope.connectionId, limit: 10 });
        expect(foreign.records).toEqual([]);
      });

      it('keeps same-id records of two tenants apart on write', async () => {
        const otherScope = { ...scope, tenantId: uniqueId('other-ten') };
        await store.write([makeRecord(scope, 'x', { data: { owner: 'first' } }), makeRecord(otherScope, 'x', { data: { owner: 'second' } })]);
        expect((await store.get(scope, 'x'))?.data).toEqual({ owner: 'first' });
        expect((await store.get(otherScope, 'x'))?.data).toEqual({ owner: 'second' });
      });
    });

    describe('list', () => {
      it('pages through every record exactly once, ordered by lastModifiedAt', async () => {
        const records = Array.from({ length: 25 }, (_, i) => makeRecord(scope, `c${i}`, { lastModifiedAt: at((i * 7) % 25) }));
        await store.write(records);
        const pageSizes: number[] = [];
        let cursor: string | undefined;
        const seen: SyncRecord[] = [];
        do {
          const page = await list({ tenantId: scope.tenantId, connectionId: scope.connectionId, entity: 'customers', limit: 10, cursor });
          pageSizes.push(page.records.length);
          seen.push(...page.records);
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        expect(pageSizes).toEqual([10, 10, 5]);
        expect(seen.map((r) => r.externalId).sort()).toEqual(records.map((r) => r.externalId).sort());
        const times = seen.map((r) => r.lastModifiedAt);
        expect(times).toEqual([...times].sort());
        expect(seen.find((r) => r.externalId === 'c3')).toEqual(records[3]);
      });

      it('gives no cursor when the page is the last one, even when it is exactly full', async () => {
        await store.write(Array.from({ length: 10 }, (_, i) => makeRecord(scope, `c${i}`)));
        const page = await list({ tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 10 });
        expect(page.records).toHaveLength(10);
        expect(page.nextCursor).toBeNull();
      });

      it('pages records that share one lastModifiedAt without losing or repeating any', async () => {
        await store.write(Array.from({ length: 30 }, (_, i) => makeRecord(scope, `same-${i}`, { lastModifiedAt: at(1) })));
        const all = await listAll(list, { tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 7 });
        expect(all).toHaveLength(30);
        expect(new Set(all.map((r) => r.externalId)).size).toBe(30);
      });

      it('lists every entity of the connection when no entity is given, and one entity when it is', async () => {
        const orders = { ...scope, entity: 'orders' };
        await store.write([makeRecord(scope, 'c1', { lastModifiedAt: at(1) }), makeRecord(orders, 'o1', { lastModifiedAt: at(2) }), makeRecord(scope, 'c2', { lastModifiedAt: at(3) })]);
        const everything = await listAll(list, { tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 2 });
        expect(everything.map((r) => `${r.entity}/${r.externalId}`)).toEqual(['customers/c1', 'orders/o1', 'customers/c2']);
        const onlyOrders = await listAll(list, { tenantId: scope.tenantId, connectionId: scope.connectionId, entity: 'orders', limit: 2 });
        expect(onlyOrders.map((r) => r.externalId)).toEqual(['o1']);
      });

      it('returns only records modified strictly after modifiedAfter', async () => {
        await store.write([1, 2, 3, 4].map((s) => makeRecord(scope, `c${s}`, { lastModifiedAt: at(s) })));
        const page = await list({ tenantId: scope.tenantId, connectionId: scope.connectionId, modifiedAfter: at(2), limit: 10 });
        expect(page.records.map((r) => r.externalId)).toEqual(['c3', 'c4']);
      });

      it('compares modifiedAfter as an instant, whatever its ISO precision', async () => {
        await store.write([makeRecord(scope, 'early', { lastModifiedAt: '2026-03-01T09:00:02.000Z' }), makeRecord(scope, 'late', { lastModifiedAt: '2026-03-01T09:00:02.500Z' })]);
        const page = await list({ tenantId: scope.tenantId, connectionId: scope.connectionId, modifiedAfter: '2026-03-01T09:00:02Z', limit: 10 });
        expect(page.records.map((r) => r.externalId)).toEqual(['late']);
      });

      it('rejects a modifiedAfter that is not a time with a validation error', async () => {
        await expectSyncBridgeError(list({ tenantId: scope.tenantId, connectionId: scope.connectionId, modifiedAfter: 'yesterday', limit: 10 }), 'validation');
      });

      it('includes tombstones by default and leaves them out when asked', async () => {
        await store.write([makeRecord(scope, 'alive'), makeRecord(scope, 'gone', { deleted: true, deletedAt: at(1), lastAction: 'deleted' })]);
        const withDeleted = await list({ tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 10 });
        expect(withDeleted.records.map((r) => r.externalId).sort()).toEqual(['alive', 'gone']);
        const live = await list({ tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 10, includeDeleted: false });
        expect(live.records.map((r) => r.externalId)).toEqual(['alive']);
      });

      it('caps a page at 1,000 records', async () => {
        await store.write(Array.from({ length: 1000 }, (_, i) => makeRecord(scope, `a${i}`)));
        await store.write(Array.from({ length: 5 }, (_, i) => makeRecord(scope, `b${i}`)));
        const page = await list({ tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 5000 });
        expect(page.records).toHaveLength(1000);
        expect(page.nextCursor).not.toBeNull();
        const rest = await list({ tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 5000, cursor: page.nextCursor! });
        expect(rest.records).toHaveLength(5);
        expect(rest.nextCursor).toBeNull();
      });

      it('keeps the cursor stable under writes: nothing unmodified is skipped or repeated, changes show up after', async () => {
        const records = Array.from({ length: 30 }, (_, i) => makeRecord(scope, `c${String(i).padStart(2, '0')}`, { lastModifiedAt: at(i) }));
        await store.write(records);
        const query = { tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 10 };
        const first = await list(query);
        expect(first.records.map((r) => r.externalId)).toEqual(records.slice(0, 10).map((r) => r.externalId));

        // Between pages: one already-read record and one not-yet-read record change, one record is new,
        // and one not-yet-read record is deleted (a tombstone is a change too).
        await store.write([
          makeRecord(scope, 'c03', { version: 2, lastAction: 'updated', data: { v: 2 }, lastModifiedAt: at(100) }),
          makeRecord(scope, 'c20', { version: 2, lastAction: 'updated', data: { v: 2 }, lastModifiedAt: at(101) }),
          makeRecord(scope, 'new', { lastModifiedAt: at(102) }),
          makeRecord(scope, 'c15', { version: 2, deleted: true, deletedAt: at(103), lastAction: 'deleted', lastModifiedAt: at(103) }),
        ]);
        const fresh = await listAll(list, { ...query });
        const afterFirst: SyncRecord[] = [];
        let cursor: string | null = first.nextCursor;
        while (cursor) {
          const page = await list({ ...query, cursor });
          afterFirst.push(...page.records);
          cursor = page.nextCursor;
        }
        const ids = afterFirst.map((r) => r.externalId);
        const untouched = records.slice(10).map((r) => r.externalId).filter((id) => id !== 'c20' && id !== 'c15');
        expect(ids.slice(0, untouched.length)).toEqual(untouched);
        expect(ids.slice(untouched.length)).toEqual(['c03', 'c20', 'new', 'c15']);
        expect(afterFirst.find((r) => r.externalId === 'c03')?.version).toBe(2);
        expect(fresh).toHaveLength(31); // a listing started afresh sees everything once
      });

      it('rejects a cursor it did not issue with a validation error', async () => {
        await store.write([makeRecord(scope, 'c1')]);
        await expectSyncBridgeError(list({ tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 10, cursor: 'not-a-cursor' }), 'validation');
      });

      it('rejects a page size below 1 with a validation error', async () => {
        await expectSyncBridgeError(list({ tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 0 }), 'validation');
      });

      it('returns an empty last page for a connection with no records', async () => {
        expect(await list({ tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 10 })).toEqual({ records: [], nextCursor: null });
      });
    });

    describe('the feed in commit order (lastModifiedAt as stored)', () => {
      // A caller proposes lastModifiedAt from its clock before the reads its write depends on (a
      // pull page reads its states first); another writer may commit in between with a later time.
      // The store moves a write's time forward so that it sorts after everything its connection
      // committed before: a client that remembers the newest time it saw misses nothing.

      it('stamps a write after everything its connection committed before, whatever time its caller proposed', async () => {
        await store.write([makeRecord(scope, 'edit', { lastModifiedAt: at(10) })]);
        const mark = (await store.get(scope, 'edit'))!.lastModifiedAt;
        await store.write([makeRecord(scope, 'pulled', { lastModifiedAt: at(5) })]); // stamped before the edit committed
        const pulled = (await store.get(scope, 'pulled'))!;
        expect(Date.parse(pulled.lastModifiedAt)).toBeGreaterThan(Date.parse(mark));
        expect((await list({ ...scope, modifiedAfter: mark, limit: 10 })).records.map((r) => r.externalId)).toEqual(['pulled']);
      });

      it('never gives two commits of one connection the same time, so modifiedAfter (exclusive) skips neither', async () => {
        await store.write([makeRecord(scope, 'first', { lastModifiedAt: at(10) })]);
        const mark = (await store.get(scope, 'first'))!.lastModifiedAt;
        await store.write([makeRecord(scope, 'second', { lastModifiedAt: at(10) }), makeRecord(scope, 'third', { lastModifiedAt: at(10) })]);
        expect((await list({ ...scope, modifiedAfter: mark, limit: 10 })).records.map((r) => r.externalId).sort()).toEqual(['second', 'third']);
      });

      it('keeps a proposed time that is already after everything committed (other connections do not hold it back)', async () => {
        const elsewhere = { ...scope, connectionId: uniqueId('con') };
        await store.write([makeRecord(elsewhere, 'other', { lastModifiedAt: at(50) })]);
        await store.write([makeRecord(scope, 'a', { lastModifiedAt: at(10) })]);
        await store.write([makeRecord(scope, 'b', { lastModifiedAt: at(20) })]);
        expect((await store.get(scope, 'a'))!.lastModifiedAt).toBe(at(10));
        expect((await store.get(scope, 'b'))!.lastModifiedAt).toBe(at(20));
      });

      it('shows a write that was proposed before the cursor\'s place on a later page', async () => {
        await store.write([makeRecord(scope, 'a', { lastModifiedAt: at(10) })]);
        await store.write([makeRecord(scope, 'b', { lastModifiedAt: at(11) })]);
        const first = await list({ ...scope, limit: 1 });
        expect(first.records.map((r) => r.externalId)).toEqual(['a']);
        await store.write([makeRecord(scope, 'late', { lastModifiedAt: at(5) })]);
        const rest: string[] = [];
        for (let cursor = first.nextCursor; cursor; ) {
          const page = await list({ ...scope, limit: 1, cursor });
          rest.push(...page.records.map((r) => r.externalId));
          cursor = page.nextCursor;
        }
        expect(rest).toEqual(['b', 'late']);
      });

      it('stamps a sweep\'s tombstones after everything committed before, and still spares what was written since the run began', async () => {
        await store.write([makeRecord(scope, 'gone', { lastModifiedAt: at(0) }), makeRecord(scope, 'seen', { lastModifiedAt: at(0) })]);
        await store.write([makeRecord(scope, 'edit', { lastModifiedAt: at(200) })]); // after the run began
        const mark = (await store.get(scope, 'edit'))!.lastModifiedAt;
        await store.markSeen('run_feed', scope, ['seen']);
        expect(await store.sweepUnseen('run_feed', scope, 'run_feed:finalize:customers', at(150), at(100))).toBe(1);
        await store.clearSeen('run_feed');
        const feed = await list({ ...scope, modifiedAfter: mark, limit: 10 });
        expect(feed.records.map((r) => [r.externalId, r.deleted, r.deletedAt])).toEqual([['gone', true, at(150)]]);
        expect(await store.get(scope, 'edit')).toMatchObject({ deleted: false });
      });
    });

    describe('count', () => {
      it('counts live records, and tombstones only when asked', async () => {
        await store.write([makeRecord(scope, 'a'), makeRecord(scope, 'b'), makeRecord(scope, 'gone', { deleted: true, deletedAt: at(1), lastAction: 'deleted' })]);
        expect(await store.count(scope)).toBe(2);
        expect(await store.count(scope, { includeDeleted: true })).toBe(3);
        expect(await store.count({ ...scope, entity: 'orders' })).toBe(0);
      });
    });

    describe('markSeen and sweepUnseen', () => {
      const runId = 'run_full_1';
      const stepId = 'run_full_1:finalize:customers';
      /** When the run began: after every record seedFive writes (at(0)), before its sweep. */
      const started = at(100);

      async function seedFive(): Promise<SyncRecord[]> {
        const records = ['a', 'b', 'c', 'd', 'e'].map((id) => makeRecord(scope, id, { version: 2 }));
        await store.write(records);
        return records;
      }

      it('tombstones the live records of the scope that the run did not see, and counts them', async () => {
        await seedFive();
        await store.markSeen(runId, scope, ['a', 'b']);
        await store.markSeen(runId, scope, ['b', 'c']); // seen twice: no harm
        expect(await store.sweepUnseen(runId, scope, stepId, at(500), started)).toBe(2);

        for (const id of ['d', 'e']) {
          expect(await store.get(scope, id)).toMatchObject({ deleted: true, deletedAt: at(500), lastModifiedAt: at(500), lastAction: 'deleted', lastStepId: stepId, version: 3 });
        }
        for (const id of ['a', 'b', 'c']) {
          expect(await store.get(scope, id)).toMatchObject({ deleted: false, version: 2, lastAction: 'added', lastModifiedAt: at(0) });
        }
        expect(await store.count(scope)).toBe(3);
      });

      it('returns the same count when the sweep is replayed, and changes nothing the second time', async () => {
        await seedFive();
        await store.markSeen(runId, scope, ['a', 'b', 'c']);
        expect(await store.sweepUnseen(runId, scope, stepId, at(500), started)).toBe(2);
        const before = await listAll(list, { tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 100 });
        expect(await store.sweepUnseen(runId, scope, stepId, at(600), started)).toBe(2);
        const after = await listAll(list, { tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 100 });
        expect(after).toEqual(before);
      });

      it('leaves records that were already tombstones alone and does not count them', async () => {
        await store.write([makeRecord(scope, 'a'), makeRecord(scope, 'old', { deleted: true, deletedAt: at(1), lastAction: 'deleted', version: 4, lastStepId: 'earlier' })]);
        await store.markSeen(runId, scope, []);
        expect(await store.sweepUnseen(runId, scope, stepId, at(500), started)).toBe(1);
        expect(await store.get(scope, 'old')).toMatchObject({ version: 4, lastStepId: 'earlier', deletedAt: at(1) });
      });

      it('never sweeps a record whose local change waits to be pushed (a local create is in no listing)', async () => {
        await seedFive();
        const pendingPush = { op: 'create' as const, version: 1, outboxId: 'out_x', since: at(2) };
        await store.write([makeRecord(scope, 'local-1', { pendingPush }), makeRecord(scope, 'b', { version: 3, pendingPush: { ...pendingPush, op: 'update' } })]);
        await store.markSeen(runId, scope, ['a']);
        expect(await store.sweepUnseen(runId, scope, stepId, at(500), started)).toBe(3); // c, d, e
        expect(await store.get(scope, 'local-1')).toMatchObject({ deleted: false, pendingPush });
        expect(await store.get(scope, 'b')).toMatchObject({ deleted: false, version: 3 });
      });

      it('spares unseen records written at or after the run began (by a webhook, a push), and still sweeps those untouched since before', async () => {
        await seedFive();
        // Written while the run was going, by writers other than the run: the provider may hold
        // them behind the place its listing had reached, so not being seen proves nothing.
        const webhook = makeRecord(scope, 'from-webhook', { lastModifiedAt: at(150), lastStepId: 'webhook:dlv_1' });
        const atStart = makeRecord(scope, 'at-start', { lastModifiedAt: started, lastStepId: 'push:out_1' });
        const touched = makeRecord(scope, 'e', { version: 3, lastModifiedAt: at(120), lastAction: 'updated', lastStepId: 'webhook:dlv_2' });
        await store.write([webhook, atStart, touched]);
        await store.markSeen(runId, scope, ['a']);
        expect(await store.sweepUnseen(runId, scope, stepId, at(500), started)).toBe(3); // b, c, d: last written at(0)
        for (const id of ['b', 'c', 'd']) expect(await store.get(scope, id)).toMatchObject({ deleted: true, lastStepId: stepId });
        expect(await store.get(scope, 'from-webhook')).toEqual(webhook);
        expect(await store.get(scope, 'at-start')).toEqual(atStart);
        expect(await store.get(scope, 'e')).toEqual(touched);
        // The next full run, begun after those writes, sweeps them if it does not see them either.
        await store.markSeen('run_full_2', scope, []);
        expect(await store.sweepUnseen('run_full_2', scope, 'run_full_2:finalize:customers', at(700), at(600))).toBe(4); // a too: this run saw nothing
        expect(await store.count(scope)).toBe(0);
        await store.clearSeen('run_full_2');
      });

      it('sweeps everything live when the run saw nothing (a listing that returned no records)', async () => {
        await seedFive();
        await store.markSeen(runId, scope, []);
        expect(await store.sweepUnseen(runId, scope, stepId, at(500), started)).toBe(5);
        expect(await store.count(scope)).toBe(0);
      });

      it('refuses to sweep a scope the run never opened a seen-set for, and changes nothing', async () => {
        const records = await seedFive();
        await store.markSeen(runId, { ...scope, entity: 'orders' }, ['a']); // another scope of the run
        await expectSyncBridgeError(store.sweepUnseen(runId, scope, stepId, at(500), started), 'not_found');
        for (const record of records) expect(await store.get(scope, record.externalId)).toEqual(record);
        await expectSyncBridgeError(store.sweepUnseen(runId, { ...scope, entity: 'never-written' }, stepId, at(500), started), 'not_found');
      });

      it('touches only its own scope: other entities, connections and tenants keep their records', async () => {
        await seedFive();
        const neighbours: RecordScope[] = [
          { ...scope, entity: 'orders' },
          { ...scope, connectionId: uniqueId('other-con') },
          { ...scope, tenantId: uniqueId('other-ten') },
        ];
        for (const neighbour of neighbours) await store.write([makeRecord(neighbour, 'z')]);
        await store.markSeen(runId, scope, ['a']);
        expect(await store.sweepUnseen(runId, scope, stepId, at(500), started)).toBe(4);
        for (const neighbour of neighbours) expect(await store.get(neighbour, 'z')).toMatchObject({ deleted: false, version: 1 });
      });

      it('keeps seen-sets apart per run and per scope', async () => {
        await seedFive();
        await store.markSeen('run_other', scope, ['a', 'b', 'c', 'd', 'e']);
        await store.markSeen(runId, { ...scope, entity: 'orders' }, ['a', 'b', 'c', 'd', 'e']);
        await store.markSeen(runId, scope, ['a']);
        expect(await store.sweepUnseen(runId, scope, stepId, at(500), started)).toBe(4);
      });

      it('forgets a run\'s seen-set on clearSeen, and clearing an unknown run is harmless', async () => {
        await seedFive();
        await store.markSeen(runId, scope, ['a', 'b', 'c', 'd', 'e']);
        await store.clearSeen(runId);
        await store.clearSeen('run_that_never_was');
        await store.markSeen(runId, scope, []); // a fresh, empty seen-set
        expect(await store.sweepUnseen(runId, scope, stepId, at(500), started)).toBe(5);
      });

      it('refuses to sweep after clearSeen (a cancel, or another copy of the closing step that finished first), and changes nothing', async () => {
        const records = await seedFive();
        await store.markSeen(runId, scope, ['a', 'b']);
        await store.markSeen(runId, { ...scope, entity: 'orders' }, ['x']);
        expect(await store.sweepUnseen(runId, { ...scope, entity: 'orders' }, `${runId}:finalize:orders`, at(500), started)).toBe(0);
        await store.clearSeen(runId);
        await expectSyncBridgeError(store.sweepUnseen(runId, scope, stepId, at(500), started), 'not_found');
        for (const record of records) expect(await store.get(scope, record.externalId)).toEqual(record);
      });

      it('sweeps a large scope in one call', async () => {
        const ids = Array.from({ length: 3000 }, (_, i) => `c${i}`);
        for (let i = 0; i < ids.length; i += 1000) await store.write(ids.slice(i, i + 1000).map((id) => makeRecord(scope, id)));
        for (let i = 0; i < ids.length; i += 1000) await store.markSeen(runId, scope, ids.slice(i, i + 1000).filter((_, k) => k % 10 !== 0));
        expect(await store.sweepUnseen(runId, scope, stepId, at(500), started)).toBe(300);
        expect(await store.count(scope)).toBe(2700);
      });
    });

    describe('two-way sync fields', () => {
      const twoWay: Partial<SyncRecord> = {
        data: { name: 'Local edit', phone: '2' },
        hash: contentHash({ name: 'Local edit', phone: '2' }),
        base: { name: 'Agreed', phone: '1' },
        fieldClock: { name: { timestamp: at(30), origin: 'syncbridge' }, phone: { timestamp: at(10), origin: 'sandbox' } },
        pendingPush: { op: 'update', version: 2, outboxId: 'out_1', since: at(30) },
        version: 2,
      };

      it('keeps base, field clocks and the pending push as written', async () => {
        const record = makeRecord(scope, 'c1', twoWay);
        await store.write([record]);
        expect(await store.get(scope, 'c1')).toEqual(record);
        const listed = await list({ tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 10 });
        expect(listed.records[0].pendingPush).toEqual(twoWay.pendingPush);
      });

      it('tells change detection which records hold an unpushed local change', async () => {
        await store.write([makeRecord(scope, 'pending', twoWay), makeRecord(scope, 'agreed')]);
        const states = await store.getStates(scope, ['pending', 'agreed']);
        expect(states.get('pending')?.pendingPush).toBe(true);
        expect(states.get('agreed')?.pendingPush ?? false).toBe(false);
      });

      it('a write without the fields clears them: a write replaces the whole record', async () => {
        await store.write([makeRecord(scope, 'c1', twoWay)]);
        await store.write([makeRecord(scope, 'c1', { version: 3, pendingPush: null, base: null })]);
        const back = await store.get(scope, 'c1');
        expect(back?.pendingPush ?? null).toBeNull();
        expect(back?.base ?? null).toBeNull();
        expect(back?.fieldClock ?? null).toBeNull();
        expect((await store.getStates(scope, ['c1'])).get('c1')?.pendingPush ?? false).toBe(false);
      });
    });

    describe('the links of a moved record (movedTo, previousIds)', () => {
      const tombstone = (): SyncRecord => makeRecord(scope, 'local-1', { version: 2, deleted: true, deletedAt: at(20), lastAction: 'deleted', lastModifiedAt: at(20), movedTo: 'p1' });
      const moved = (): SyncRecord => makeRecord(scope, 'p1', { lastModifiedAt: at(20), previousIds: ['local-0', 'local-1'] });

      it('keeps them as written, in get, getWithRevision and list, and leaves them out where none', async () => {
        await store.write([tombstone(), moved(), makeRecord(scope, 'plain')]);
        expect(await store.get(scope, 'local-1')).toEqual(tombstone());
        expect((await store.getWithRevision(scope, 'p1'))?.record).toEqual(moved());
        const plain = await store.get(scope, 'plain');
        expect(plain).not.toHaveProperty('movedTo');
        expect(plain).not.toHaveProperty('previousIds');
        // The feed lists the tombstone with its link, so a client following it learns the new id.
        const listed = await listAll(list, { tenantId: scope.tenantId, connectionId: scope.connectionId, modifiedAfter: at(10), limit: 10 });
        expect(listed.find((r) => r.externalId === 'local-1')).toMatchObject({ deleted: true, movedTo: 'p1' });
        expect(listed.find((r) => r.externalId === 'p1')?.previousIds).toEqual(['local-0', 'local-1']);
      });

      it('returns them in getStates (a pull rewrites a record from its state), absent where none', async () => {
        await store.write([tombstone(), moved(), makeRecord(scope, 'plain')]);
        const states = await store.getStates(scope, ['local-1', 'p1', 'plain']);
        expect(states.get('local-1')?.movedTo).toBe('p1');
        expect(states.get('local-1')).not.toHaveProperty('previousIds');
        expect(states.get('p1')?.previousIds).toEqual(['local-0', 'local-1']);
        expect(states.get('p1')).not.toHaveProperty('movedTo');
        expect(states.get('plain')).not.toHaveProperty('movedTo');
        expect(states.get('plain')).not.toHaveProperty('previousIds');
      });

      it('a write without them clears them, null and absent alike; a sweep keeps them', async () => {
        await store.write([tombstone(), moved()]);
        await store.write([makeRecord(scope, 'local-1', { version: 3, movedTo: null }), makeRecord(scope, 'p1', { version: 2 })]);
        for (const id of ['local-1', 'p1']) {
          const back = await store.get(scope, id);
          expect(back).not.toHaveProperty('movedTo');
          expect(back).not.toHaveProperty('previousIds');
        }
        await store.write([moved()]);
        const runId = uniqueId('run');
        await store.markSeen(runId, scope, []);
        expect(await store.sweepUnseen(runId, scope, 'sweep:1', at(60), at(50))).toBe(2);
        expect(await store.get(scope, 'p1')).toMatchObject({ deleted: true, previousIds: ['local-0', 'local-1'] });
      });

      it('counts them in a record\'s size', () => {
        const ids = Array.from({ length: 100 }, (_, i) => `local-${'x'.repeat(40)}-${i}`);
        expect(recordWriteBytes(makeRecord(scope, 'p1', { previousIds: ids }))).toBeGreaterThan(recordWriteBytes(makeRecord(scope, 'p1')) + 4000);
        expect(recordWriteBytes(makeRecord(scope, 'p1', { movedTo: 'p'.repeat(1000) }))).toBeGreaterThan(recordWriteBytes(makeRecord(scope, 'p1')) + 1000);
      });
    });

    describe('compare-and-set (getWithRevision, ifRevision)', () => {
      const pending: Partial<SyncRecord> = {
        version: 2,
        base: { name: 'Agreed' },
        pendingPush: { op: 'update', version: 2, outboxId: 'out_2', since: at(30) },
      };

      it('reads the record as get does, with a revision; nothing for an id it never stored', async () => {
        const record = makeRecord(scope, 'c1', pending);
        await store.write([record]);
        const read = await store.getWithRevision(scope, 'c1');
        expect(read?.record).toEqual(record);
        expect(typeof read?.revision).toBe('string');
        expect(await store.getWithRevision(scope, 'c2')).toBeUndefined();
        expect(await store.getWithRevision({ ...scope, tenantId: uniqueId('ten') }, 'c1')).toBeUndefined();
      });

      it('writes when the stored record still has the revision read, and the condition is not stored', async () => {
        await store.write([makeRecord(scope, 'c1', pending)]);
        const { revision } = (await store.getWithRevision(scope, 'c1'))!;
        // Settled: no base, no pending push (absent, as a store reads them back).
        const agreed = makeRecord(scope, 'c1', { version: 2, data: { name: 'Provider copy' }, hash: contentHash({ name: 'Provider copy' }), lastStepId: 'push:out_2', lastModifiedAt: at(40) });
        await store.write([{ ...agreed, ifRevision: revision }]);
        const back = await store.getWithRevision(scope, 'c1');
        expect(back?.record).toEqual(agreed);
        expect(back?.record).not.toHaveProperty('ifRevision');
        expect(back?.revision).not.toBe(revision);
      });

      it('changes the revision on every write, also one that keeps the version (recording a push does)', async () => {
        await store.write([makeRecord(scope, 'c1', pending)]);
        const before = (await store.getWithRevision(scope, 'c1'))!.revision;
        // Same version, only the two-way fields change: what agreeing on a push writes.
        await store.write([makeRecord(scope, 'c1', { version: 2, base: null, pendingPush: null })]);
        const after = (await store.getWithRevision(scope, 'c1'))!.revision;
        expect(after).not.toBe(before);
        // Even the very same record written again is a write.
        await store.write([makeRecord(scope, 'c1', { version: 2, base: null, pendingPush: null })]);
        expect((await store.getWithRevision(scope, 'c1'))!.revision).not.toBe(after);
      });

      it('refuses a stale write with conflict and writes nothing of the call', async () => {
        await store.write([makeRecord(scope, 'c1', pending)]);
        const stale = (await store.getWithRevision(scope, 'c1'))!.revision;
        // A local change commits between the read and the write (version 3, its own pending push).
        const edited = makeRecord(scope, 'c1', { ...pending, version: 3, data: { name: 'Edited' }, hash: contentHash({ name: 'Edited' }), lastModifiedAt: at(40), pendingPush: { op: 'update', version: 3, outboxId: 'out_3', since: at(40) } });
        await store.write([edited]);
        const overwrite = makeRecord(scope, 'c1', { version: 2, data: { name: 'Provider copy' }, base: null, pendingPush: null });
        const bystander = makeRecord(scope, 'c9');
        await expectSyncBridgeError(store.write([bystander, { ...overwrite, ifRevision: stale }]), 'conflict');
        expect(await store.get(scope, 'c1')).toEqual(edited);
        expect(await store.get(scope, 'c9')).toBeUndefined();
      });

      it('counts a sweep\'s tombstone as a write', async () => {
        await store.write([makeRecord(scope, 'gone')]);
        const stale = (await store.getWithRevision(scope, 'gone'))!.revision;
        const runId = uniqueId('run');
        await store.markSeen(runId, scope, ['other']);
        expect(await store.sweepUnseen(runId, scope, `${runId}:customers:1`, at(50), at(10))).toBe(1);
        await expectSyncBridgeError(store.write([{ ...makeRecord(scope, 'gone', { version: 2 }), ifRevision: stale }]), 'conflict');
        expect(await store.get(scope, 'gone')).toMatchObject({ deleted: true, lastStepId: `${runId}:customers:1` });
        await store.clearSeen(runId);
      });

      it('reads each record\'s revision with getStates, so a page read in one call can be written with compare-and-set', async () => {
        await store.write([makeRecord(scope, 'a'), makeRecord(scope, 'b')]);
        const states = await store.getStates(scope, ['a', 'b']);
        expect(states.get('a')!.revision).toBe((await store.getWithRevision(scope, 'a'))!.revision);
        // A local change commits to b after the page was read: a's write goes through, b's is refused.
        await store.write([makeRecord(scope, 'b', { version: 2, data: { name: 'Edited' }, pendingPush: { op: 'update', version: 2, outboxId: 'out_b2', since: at(40) } })]);
        const pulled = (id: string) => ({ ...makeRecord(scope, id, { version: 2, data: { name: 'Pulled' }, lastStepId: 'run_2:customers:1' }), ifRevision: states.get(id)!.revision });
        await store.write([pulled('a')]);
        await expectSyncBridgeError(store.write([pulled('b')]), 'conflict');
        expect((await store.get(scope, 'a'))!.data).toEqual({ name: 'Pulled' });
        expect(await store.get(scope, 'b')).toMatchObject({ data: { name: 'Edited' }, pendingPush: { outboxId: 'out_b2' } });
        expect((await store.getStates(scope, ['a'])).get('a')!.revision).not.toBe(states.get('a')!.revision);
      });

      it('takes a conditional call of MAX_CONDITIONAL_WRITE records, and never writes one whose condition fails', async () => {
        const ids = Array.from({ length: MAX_CONDITIONAL_WRITE }, (_, i) => `m${i}`);
        await store.write(ids.map((id) => makeRecord(scope, id)));
        const states = await store.getStates(scope, ids);
        const next = (id: string, name: string) => ({ ...makeRecord(scope, id, { version: 2, data: { name } }), ifRevision: states.get(id)!.revision });
        const last = ids[MAX_CONDITIONAL_WRITE - 1];
        await store.write([makeRecord(scope, last, { version: 5 })]); // changes after the page was read
        // (Cosmos DB refuses the whole batch; the loopback test server may have applied the others.)
        await expectSyncBridgeError(store.write(ids.map((id) => next(id, 'Refused'))), 'conflict');
        expect(await store.get(scope, last)).toMatchObject({ version: 5 });
        const fresh = await store.getStates(scope, ids);
        await store.write(ids.map((id) => ({ ...makeRecord(scope, id, { version: 6, data: { name: 'Written' } }), ifRevision: fresh.get(id)!.revision })));
        expect((await store.get(scope, last))!.data).toEqual({ name: 'Written' });
      });

      it('with ifRevision null, writes only a record that is not stored yet', async () => {
        const first = makeRecord(scope, 'new');
        await store.write([{ ...first, ifRevision: null }]);
        expect(await store.get(scope, 'new')).toEqual(first);
        await expectSyncBridgeError(store.write([{ ...makeRecord(scope, 'new', { version: 2, data: {} }), ifRevision: null }]), 'conflict');
        expect(await store.get(scope, 'new')).toEqual(first);
      });

      it('with a revision, refuses a record that is not stored and stores nothing of it, alone or beside others', async () => {
        await store.write([makeRecord(scope, 'elsewhere')]);
        const { revision } = (await store.getWithRevision(scope, 'elsewhere'))!;
        await expectSyncBridgeError(store.write([{ ...makeRecord(scope, 'never'), ifRevision: revision }]), 'conflict');
        expect(await store.get(scope, 'never')).toBeUndefined();
        await expectSyncBridgeError(store.write([makeRecord(scope, 'bystander'), { ...makeRecord(scope, 'never'), ifRevision: revision }]), 'conflict');
        expect(await store.get(scope, 'never')).toBeUndefined();
        // A condition that held is written, with a new revision.
        await store.write([{ ...makeRecord(scope, 'elsewhere', { version: 2, data: { name: 'Again' } }), ifRevision: revision }]);
        expect((await store.getWithRevision(scope, 'elsewhere'))!.revision).not.toBe(revision);
      });

      it('with ifRevision null, counts a tombstone as stored: refused, and written over only with its revision', async () => {
        const tombstone = makeRecord(scope, 'gone', { version: 2, deleted: true, deletedAt: at(20), lastAction: 'deleted' });
        await store.write([tombstone]);
        const revived = makeRecord(scope, 'gone', { version: 3, data: { name: 'Back' }, lastModifiedAt: at(40) });
        await expectSyncBridgeError(store.write([{ ...revived, ifRevision: null }]), 'conflict');
        expect(await store.get(scope, 'gone')).toEqual(tombstone);
        const { revision } = (await store.getWithRevision(scope, 'gone'))!;
        await store.write([{ ...revived, ifRevision: revision }]);
        expect(await store.get(scope, 'gone')).toEqual(revived);
      });

      it('a create-only write that finds a record fails the whole call: nothing else of it is written, conditional or not', async () => {
        const taken = makeRecord(scope, 'taken', { data: { name: 'Stored first' } });
        await store.write([taken, makeRecord(scope, 'held')]);
        const { revision } = (await store.getWithRevision(scope, 'held'))!;
        const call = [
          // (Listed first for the loopback Cosmos DB server, which applies a batch's operations one by
          // one until one fails; Cosmos DB itself refuses a failed batch whole, in any order.)
          { ...makeRecord(scope, 'taken', { data: { name: 'Overwrite' } }), ifRevision: null },
          { ...makeRecord(scope, 'held', { version: 2, data: { name: 'Condition held' } }), ifRevision: revision },
          { ...makeRecord(scope, 'fresh'), ifRevision: null },
          makeRecord(scope, 'bystander'),
        ];
        await expectSyncBridgeError(store.write(call), 'conflict');
        expect(await store.get(scope, 'taken')).toEqual(taken);
        expect(await store.get(scope, 'held')).toEqual(makeRecord(scope, 'held'));
        expect(await store.get(scope, 'fresh')).toBeUndefined();
        expect(await store.get(scope, 'bystander')).toBeUndefined();
      });

      it('moves a record in one call (the new id create-only, the old one\'s tombstone on its revision), or not at all', async () => {
        const temporary = makeRecord(scope, 'local-1', { pendingPush: { op: 'create', version: 1, outboxId: 'out_1', since: at(10) } });
        await store.write([temporary]);
        const read = (await store.getWithRevision(scope, 'local-1'))!;
        const moved = makeRecord(scope, 'p1', { data: { name: 'Provider copy' } });
        const tombstone = makeRecord(scope, 'local-1', { version: 2, deleted: true, deletedAt: at(20), lastModifiedAt: at(40), lastAction: 'deleted' });
        // A webhook stores the provider's record first: the move must not write over it.
        const announced = makeRecord(scope, 'p1', { data: { name: 'From the webhook' }, lastStepId: 'webhook:dlv_1', lastModifiedAt: at(30) });
        await store.write([announced]);
        await expectSyncBridgeError(store.write([{ ...moved, ifRevision: null }, { ...tombstone, ifRevision: read.revision }]), 'conflict');
        expect(await store.get(scope, 'p1')).toEqual(announced);
        expect(await store.get(scope, 'local-1')).toEqual(temporary);
        // Where nothing is stored yet, the move writes both.
        const other = makeRecord(scope, 'p2', { data: { name: 'Provider copy' }, lastModifiedAt: at(40) });
        await store.write([{ ...other, ifRevision: null }, { ...tombstone, ifRevision: read.revision }]);
        expect(await store.get(scope, 'p2')).toEqual(other);
        expect(await store.get(scope, 'local-1')).toEqual(tombstone);
      });
    });
  });
}
