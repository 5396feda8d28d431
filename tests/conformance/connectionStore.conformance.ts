import type { Connection } from '../../shared/core/model';
import type { ConnectionStore } from '../../shared/ports/connectionStore';
import { expectSyncBridgeError, uniqueId, type StoreFactory, type StoreFixture } from './fixtures';

function makeConnection(tenantId: string, id: string, overrides: Partial<Connection> = {}): Connection {
  return {
    id,
    tenantId,
    provider: 'sandbox',
    displayName: 'Sandbox CRM',
    config: { baseUrl: 'http://127.0.0.1:4010', pageSize: 100 },
    credentialRef: `connection-${id}-credentials`,
    entities: [
      { name: 'customers', direction: 'pull' },
      { name: 'orders', direction: 'both' },
    ],
    schedule: { cron: '0 */5 * * * *', timeZone: 'Europe/Paris', mode: 'incremental', enabled: true },
    status: 'active',
    syncState: { customers: { highWater: '2026-02-01T00:00:00Z', lastCompletedRunId: 'run_1' } },
    createdAt: '2026-03-01T09:00:00.000Z',
    updatedAt: '2026-03-01T09:00:00.000Z',
    version: 0,
    ...overrides,
  };
}

/** The ConnectionStore port's semantics (shared/ports/connectionStore.ts), run against every implementation. */
export function connectionStoreConformance(name: string, factory: StoreFactory<ConnectionStore>): void {
  describe(`ConnectionStore conformance: ${name}`, () => {
    let fixture: StoreFixture<ConnectionStore>;
    let store: ConnectionStore;
    let tenantId: string;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
      tenantId = uniqueId('ten');
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('stores a new connection at version 1 and returns it whole', async () => {
      const connection = makeConnection(tenantId, uniqueId('con'));
      const created = await store.create(connection);
      expect(created).toEqual({ ...connection, version: 1 });
      expect(await store.get(connection.id)).toEqual(created);
    });

    it('returns undefined for an unknown connection', async () => {
      expect(await store.get(uniqueId('con-missing'))).toBeUndefined();
    });

    it('refuses an existing id as a conflict, even for another tenant (ids are session ids)', async () => {
      const id = uniqueId('con');
      const first = await store.create(makeConnection(tenantId, id));
      await expectSyncBridgeError(store.create(makeConnection(tenantId, id)), 'conflict');
      await expectSyncBridgeError(store.create(makeConnection(uniqueId('other-ten'), id)), 'conflict');
      expect(await store.get(id)).toEqual(first);
    });

    it('updates at version + 1 when the version matches', async () => {
      const created = await store.create(makeConnection(tenantId, uniqueId('con')));
      const changed = { ...created, status: 'paused' as const, syncState: { customers: { highWater: '2026-03-01T00:00:00Z' } }, updatedAt: '2026-03-01T10:00:00.000Z' };
      const updated = await store.update(changed);
      expect(updated).toEqual({ ...changed, version: created.version + 1 });
      expect(await store.get(created.id)).toEqual(updated);
    });

    it('refuses a stale version as a conflict and keeps the winner\'s write', async () => {
      const created = await store.create(makeConnection(tenantId, uniqueId('con')));
      const winner = await store.update({ ...created, displayName: 'winner' });
      await expectSyncBridgeError(store.update({ ...created, displayName: 'loser' }), 'conflict');
      expect(await store.get(created.id)).toEqual(winner);
    });

    it('refuses an update of an unknown connection as not_found', async () => {
      await expectSyncBridgeError(store.update(makeConnection(tenantId, uniqueId('con-missing'), { version: 1 })), 'not_found');
    });

    it('never moves a connection to another tenant through update', async () => {
      const created = await store.create(makeConnection(tenantId, uniqueId('con')));
      await expect(store.update({ ...created, tenantId: uniqueId('thief') })).rejects.toThrow();
      expect(await store.get(created.id)).toEqual(created);
    });

    it('lists only the tenant\'s connections, ordered by id', async () => {
      const ids = ['con-c', 'con-a', 'con-b'].map((prefix) => uniqueId(prefix));
      for (const id of ids) await store.create(makeConnection(tenantId, id));
      await store.create(makeConnection(uniqueId('other-ten'), uniqueId('con-x')));
      const page = await store.listByTenant({ tenantId });
      expect(page.connections.map((c) => c.id)).toEqual([...ids].sort());
      expect(page.nextCursor).toBeNull();
      expect(page.connections[0]).toEqual(await store.get(page.connections[0].id));
      expect(await store.listByTenant({ tenantId: uniqueId('nobody') })).toEqual({ connections: [], nextCursor: null });
    });

    it('pages a tenant\'s connections by cursor, each once, in id order, with null after the last page', async () => {
      const ids = Array.from({ length: 7 }, (_, i) => `${uniqueId('con')}-${i}`);
      for (const id of ids) await store.create(makeConnection(tenantId, id));
      await store.create(makeConnection(uniqueId('other-ten'), uniqueId('con-y')));
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listByTenant({ tenantId, cursor, limit: 3 });
        pages.push(page.connections.map((c) => c.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined && pages.length < 10);
      const sorted = [...ids].sort();
      expect(pages).toEqual([sorted.slice(0, 3), sorted.slice(3, 6), sorted.slice(6)]);
      // A page that ends exactly at the last connection still says there is no next page.
      const exact = await store.listByTenant({ tenantId, limit: 7 });
      expect([exact.connections.length, exact.nextCursor]).toEqual([7, null]);
    });

    it('keeps a cursor valid while connections are created: later ids show up, earlier ones do not', async () => {
      const base = uniqueId('con');
      for (const suffix of ['b', 'd', 'f']) await store.create(makeConnection(tenantId, `${base}-${suffix}`));
      const first = await store.listByTenant({ tenantId, limit: 2 });
      expect(first.connections.map((c) => c.id)).toEqual([`${base}-b`, `${base}-d`]);
      await store.create(makeConnection(tenantId, `${base}-a`));
      await store.create(makeConnection(tenantId, `${base}-e`));
      const rest = await store.listByTenant({ tenantId, cursor: first.nextCursor!, limit: 2 });
      expect(rest).toEqual({ connections: [expect.objectContaining({ id: `${base}-e` }), expect.objectContaining({ id: `${base}-f` })], nextCursor: null });
    });

    it('refuses a limit below 1 and a cursor it did not hand out as validation errors', async () => {
      await store.create(makeConnection(tenantId, uniqueId('con')));
      await expectSyncBridgeError(store.listByTenant({ tenantId, limit: 0 }), 'validation');
      await expectSyncBridgeError(store.listByTenant({ tenantId, limit: 2.5 }), 'validation');
      await expectSyncBridgeError(store.listByTenant({ tenantId, cursor: 'not-a-cursor' }), 'validation');
      await expectSyncBridgeError(store.listByTenant({ tenantId, cursor: Buffer.from('k:anything').toString('base64url') }), 'validation');
    });

    it('pages through every connection in id order with afterId and limit', async () => {
      const mine = Array.from({ length: 7 }, (_, i) => `${uniqueId('con')}-${i}`);
      for (const [i, id] of mine.entries()) await store.create(makeConnection(i % 2 === 0 ? tenantId : uniqueId('ten-b'), id));
      const collected: string[] = [];
      let afterId: string | undefined;
      for (let guard = 0; guard < 10_000; guard += 1) {
        const page = await store.listAll({ afterId, limit: 3 });
        expect(page.length).toBeLessThanOrEqual(3);
        if (page.length === 0) break;
        const pageIds = page.map((c) => c.id);
        expect(pageIds).toEqual([...pageIds].sort());
        if (afterId !== undefined) expect(pageIds[0] > afterId).toBe(true);
        collected.push(...pageIds);
        afterId = pageIds[pageIds.length - 1];
      }
      // A shared backend may hold other tests' connections too; ours all appear, once each, in order.
      const ours = collected.filter((id) => mine.includes(id));
      expect(ours).toEqual([...mine].sort());
    });
  });
}
