import type { Delivery, DeliveryStore } from '../../shared/ports/deliveryStore';
import { sampleDelivery, uniqueId, type StoreFactory, type StoreFixture } from './fixtures';

/** The DeliveryStore port's semantics (shared/ports/deliveryStore.ts), run against every implementation. */
export interface DeliveryRetentionFixture {
  /** A store that keeps `keep` deliveries per connection (purging as it goes). */
  factory: StoreFactory<DeliveryStore>;
  keep: number;
}

export function deliveryStoreConformance(name: string, factory: StoreFactory<DeliveryStore>, retention?: DeliveryRetentionFixture): void {
  describe(`DeliveryStore conformance: ${name}`, () => {
    let fixture: StoreFixture<DeliveryStore>;
    let store: DeliveryStore;
    let tenantId: string;
    let connectionId: string;

    const delivery = (n: number, overrides: Partial<Delivery> = {}): Delivery => sampleDelivery(n, { tenantId, connectionId, ...overrides });

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
      tenantId = uniqueId('tenant');
      connectionId = uniqueId('conn');
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('stores a delivery with its body and returns it by id', async () => {
      expect(await store.insert(delivery(1))).toBe(true);
      expect(await store.get(delivery(1).id)).toEqual(delivery(1));
      expect(await store.get('nope')).toBeUndefined();
    });

    it('leaves the first copy alone when an id is inserted again, and counts it once', async () => {
      await store.insert(delivery(1));
      expect(await store.insert(delivery(1, { body: 'other', status: 'failed' }))).toBe(false);
      expect(await store.get(delivery(1).id)).toEqual(delivery(1));
      expect((await store.health(connectionId)).received).toBe(1);
    });

    it('inserts several at once, reporting per delivery whether it was new', async () => {
      await store.insert(delivery(2));
      expect(await store.insertMany([delivery(1), delivery(2, { body: 'other' }), delivery(3)])).toEqual([true, false, true]);
      expect(await store.get(delivery(2).id)).toEqual(delivery(2));
      expect((await store.list({ tenantId, connectionId, limit: 10 })).deliveries.map((d) => d.webhookId)).toEqual(['evt_3', 'evt_1', 'evt_2']);
      expect((await store.health(connectionId)).received).toBe(3);
      expect(await store.insertMany([])).toEqual([]);
    });

    it('counts a batch of several connections in each one\'s health, received at the latest of its new deliveries', async () => {
      const other = uniqueId('conn');
      await store.insert(delivery(0));
      // In batch order, not in time order: the journal's order is not the order of receivedAt.
      const batch = [delivery(3), delivery(5, { connectionId: other, id: `${other}-5` }), delivery(1), delivery(0), delivery(2, { connectionId: other, id: `${other}-2` })];
      expect(await store.insertMany(batch)).toEqual([true, true, true, false, true]);
      expect(await store.health(connectionId)).toMatchObject({ received: 3, lastReceivedAt: delivery(3).receivedAt });
      expect(await store.health(other)).toMatchObject({ received: 2, lastReceivedAt: delivery(5).receivedAt });
    });

    it('lists newest first, paged by cursor, scoped to tenant and connection', async () => {
      for (let n = 1; n <= 5; n += 1) await store.insert(delivery(n));
      const other = connectionId;
      connectionId = uniqueId('conn');
      await store.insert(delivery(9));
      connectionId = other;
      const first = await store.list({ tenantId, connectionId, limit: 2 });
      expect(first.deliveries.map((d) => d.webhookId)).toEqual(['evt_5', 'evt_4']);
      const second = await store.list({ tenantId, connectionId, limit: 2, cursor: first.nextCursor! });
      expect(second.deliveries.map((d) => d.webhookId)).toEqual(['evt_3', 'evt_2']);
      const third = await store.list({ tenantId, connectionId, limit: 2, cursor: second.nextCursor! });
      expect(third.deliveries.map((d) => d.webhookId)).toEqual(['evt_1']);
      expect(third.nextCursor).toBeNull();
      expect((await store.list({ tenantId: uniqueId('tenant'), connectionId, limit: 10 })).deliveries).toEqual([]);
    });

    it('rejects a cursor it did not hand out', async () => {
      await expect(store.list({ tenantId, connectionId, limit: 2, cursor: 'garbage' })).rejects.toMatchObject({ code: 'validation' });
    });

    it('updates status, detail, replays and settledBy; an unknown id reports false', async () => {
      await store.insert(delivery(1));
      expect(await store.update(delivery(1).id, { status: 'failed', detail: 'provider down', replays: 1, settledBy: '1017' }, '2026-02-01T00:00:00.000Z')).toBe(true);
      expect(await store.get(delivery(1).id)).toEqual({ ...delivery(1), status: 'failed', detail: 'provider down', replays: 1, settledBy: '1017', updatedAt: '2026-02-01T00:00:00.000Z' });
      expect(await store.update('nope', { status: 'applied' }, '2026-02-01T00:00:00.000Z')).toBe(false);
      // A replay clears the detail: an undefined field is removed, the rest stays.
      expect(await store.update(delivery(1).id, { status: 'received', detail: undefined }, '2026-02-02T00:00:00.000Z')).toBe(true);
      const cleared = await store.get(delivery(1).id);
      expect(cleared).toEqual({ ...delivery(1), status: 'received', replays: 1, settledBy: '1017', updatedAt: '2026-02-02T00:00:00.000Z' });
      expect(cleared).not.toHaveProperty('detail');
    });

    it('lists a connection\'s held deliveries oldest first (receipt order), at most limit, without bodies, scoped', async () => {
      for (let n = 1; n <= 6; n += 1) await store.insert(delivery(n));
      const other = uniqueId('conn');
      await store.insert(delivery(7, { id: `${other}-held`, connectionId: other, status: 'held' }));
      await store.insert(delivery(8, { id: `${connectionId}-other-tenant`, tenantId: uniqueId('tenant'), status: 'held' }));
      // Held in another order than received: the list is receipt order all the same.
      for (const n of [5, 2, 4]) await store.update(delivery(n).id, { status: 'held', detail: 'paused' }, '2026-02-01T00:00:00.000Z');
      expect((await store.listHeld(tenantId, connectionId, 10)).map((d) => d.webhookId)).toEqual(['evt_2', 'evt_4', 'evt_5']);
      const first = await store.listHeld(tenantId, connectionId, 2);
      expect(first.map((d) => d.webhookId)).toEqual(['evt_2', 'evt_4']);
      expect(first[0]).toMatchObject({ id: delivery(2).id, status: 'held', detail: 'paused', body: '' });
      // Released: no longer listed.
      await store.update(delivery(2).id, { status: 'received', detail: undefined, replays: 1 }, '2026-02-02T00:00:00.000Z');
      expect((await store.listHeld(tenantId, connectionId, 10)).map((d) => d.webhookId)).toEqual(['evt_4', 'evt_5']);
      expect(await store.listHeld(tenantId, uniqueId('conn'), 10)).toEqual([]);
    });

    it('counts health per connection, zeros when none', async () => {
      expect(await store.health(connectionId)).toEqual({
        connectionId, received: 0, rejected: 0, failures: 0, lastReceivedAt: null, lastRejectedAt: null, lastFailureAt: null, lastError: null,
      });
      await store.insert(delivery(1));
      await store.recordHealth(connectionId, 'rejected', '2026-03-01T00:00:00.000Z', '401: bad signature');
      await store.recordHealth(connectionId, 'failed', '2026-03-02T00:00:00.000Z', 'provider down');
      await store.recordHealth(connectionId, 'failed', '2026-03-03T00:00:00.000Z', 'provider still down');
      expect(await store.health(connectionId)).toEqual({
        connectionId,
        received: 1,
        rejected: 1,
        failures: 2,
        lastReceivedAt: delivery(1).receivedAt,
        lastRejectedAt: '2026-03-01T00:00:00.000Z',
        lastFailureAt: '2026-03-03T00:00:00.000Z',
        lastError: 'provider still down',
      });
      expect((await store.health(uniqueId('conn'))).received).toBe(0);
    });

    it('counts several events of one kind in one call', async () => {
      await store.recordHealth(connectionId, 'rejected', '2026-03-01T00:00:00.000Z', '401: bad signature');
      await store.recordHealth(connectionId, 'rejected', '2026-03-04T00:00:00.000Z', '401: stale timestamp', 41);
      expect(await store.health(connectionId)).toMatchObject({ rejected: 42, lastRejectedAt: '2026-03-04T00:00:00.000Z', lastError: '401: stale timestamp' });
    });

    (retention ? it : it.skip)('keeps the newest deliveries of a connection within its retention, and others\' untouched', async () => {
      const small = await retention!.factory();
      try {
        const other = uniqueId('conn');
        await small.store.insert({ ...delivery(100), id: `${other}-keep`, connectionId: other });
        const total = retention!.keep * 3 + 1;
        // Applied ones: a delivery still received is never purged (the next case).
        for (let n = 1; n <= total; n += 1) await small.store.insert(delivery(n, { status: 'applied' }));
        const page = await small.store.list({ tenantId, connectionId, limit: total });
        expect(page.deliveries.length).toBeGreaterThanOrEqual(retention!.keep);
        expect(page.deliveries.length).toBeLessThan(total);
        // The newest are the ones kept, with nothing missing between them.
        expect(page.deliveries.map((d) => d.webhookId)).toEqual(Array.from({ length: page.deliveries.length }, (_, i) => `evt_${total - i}`));
        expect(await small.store.get(`${other}-keep`)).toBeDefined();
        expect((await small.store.health(connectionId)).received).toBe(total); // health counts everything ever received
      } finally {
        await small.cleanup();
      }
    });

    (retention ? it : it.skip)('never drops a held delivery (its connection paused), however many newer ones arrive', async () => {
      const small = await retention!.factory();
      try {
        const total = retention!.keep * 3 + 1;
        await small.store.insert(delivery(1, { status: 'held' }));
        await small.store.insert(delivery(2));
        await small.store.update(delivery(2).id, { status: 'held' }, '2026-02-01T00:00:00.000Z');
        for (let n = 3; n <= total; n += 1) await small.store.insert(delivery(n, { status: 'applied' }));
        expect((await small.store.listHeld(tenantId, connectionId, 10)).map((d) => d.webhookId)).toEqual(['evt_1', 'evt_2']);
        expect(await small.store.get(delivery(1).id)).toEqual(delivery(1, { status: 'held' }));
        expect((await small.store.list({ tenantId, connectionId, limit: total })).deliveries.length).toBeLessThan(total);
      } finally {
        await small.cleanup();
      }
    });

    // On a store without a count (a TTL), the backlog below is simply kept; the store's own tests
    // show how its retention spares received deliveries (tests/conformance/cosmosDeliveryRetention.test.ts).
    it('never drops a delivery still received (not applied yet), however far a backlog outgrows the retention', async () => {
      const target = retention ? await retention.factory() : fixture;
      try {
        const keep = retention?.keep ?? 5;
        const total = keep * 3 + 1;
        const settled = (n: number) => n % 4 === 0;
        const received = Array.from({ length: total }, (_, i) => i + 1).filter((n) => !settled(n));
        // The worker is behind: most of the log is still waiting for it, a few were applied.
        for (let n = 1; n <= total; n += 1) await target.store.insert(delivery(n, settled(n) ? { status: 'applied' } : {}));
        for (const n of received) expect(await target.store.get(delivery(n).id)).toEqual(delivery(n));
        const listed = (await target.store.list({ tenantId, connectionId, limit: total })).deliveries.map((d) => d.webhookId);
        expect(listed).toEqual(expect.arrayContaining(received.map((n) => `evt_${n}`)));
        if (!retention) return;
        // Once the worker catches up, they fall under the retention like any other.
        for (const n of received) await target.store.update(delivery(n).id, { status: 'applied' }, '2026-02-01T00:00:00.000Z');
        for (let n = total + 1; n <= total + keep; n += 1) await target.store.insert(delivery(n, { status: 'applied' }));
        const after = await target.store.list({ tenantId, connectionId, limit: total * 2 });
        expect(after.deliveries.length).toBeLessThan(total);
        expect(after.deliveries[0].webhookId).toBe(`evt_${total + keep}`);
      } finally {
        if (retention) await target.cleanup();
      }
    });
  });
}
