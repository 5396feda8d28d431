import type { Conflict, ConflictStore } from '../../shared/ports/conflictStore';
import { expectSyncBridgeError, uniqueId, type StoreFactory, type StoreFixture } from './fixtures';

const T = '2026-03-01T09:00:00.000Z';

function conflict(tenantId: string, overrides: Partial<Conflict> = {}): Conflict {
  return {
    id: uniqueId('cfl'),
    tenantId,
    connectionId: 'con-a',
    entity: 'customers',
    externalId: 'cus_1',
    outboxId: uniqueId('out'),
    kind: 'data_mismatch',
    state: 'open',
    reason: 'Fields changed on both sides need a decision: name.',
    base: { name: 'Ada' },
    local: { name: 'Local' },
    remote: { name: 'Remote' },
    fields: ['name'],
    createdAt: T,
    updatedAt: T,
    ...overrides,
  };
}

/** The ConflictStore port's semantics (shared/ports/conflictStore.ts), run against every implementation. */
export function conflictStoreConformance(name: string, factory: StoreFactory<ConflictStore>): void {
  describe(`ConflictStore conformance: ${name}`, () => {
    let fixture: StoreFixture<ConflictStore>;
    let store: ConflictStore;
    let tenant: string;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
      tenant = uniqueId('ten');
    });
    afterEach(async () => fixture.cleanup());

    it('opens a conflict once: a second open returns the first unchanged', async () => {
      const first = conflict(tenant);
      expect(await store.open(first)).toEqual(first);
      expect(await store.open({ ...first, reason: 'something else' })).toEqual(first);
      expect(await store.get(tenant, first.id)).toEqual(first);
    });

    it('never shows a conflict to another tenant', async () => {
      const c = await store.open(conflict(tenant));
      const other = uniqueId('ten');
      expect(await store.get(other, c.id)).toBeUndefined();
      expect((await store.list({ tenantId: other, limit: 10 })).conflicts).toEqual([]);
      expect(await store.stats(other)).toEqual([]);
      await expectSyncBridgeError(store.resolve(other, c.id, 'local', T), 'not_found');
    });

    it('lists oldest first by state, page by page', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) ids.push((await store.open(conflict(tenant, { externalId: `cus_${i}` }))).id);
      await store.resolve(tenant, ids[1], 'remote', T);
      const first = await store.list({ tenantId: tenant, state: 'open', limit: 2 });
      expect(first.conflicts.map((c) => c.id)).toEqual([ids[0], ids[2]]);
      const second = await store.list({ tenantId: tenant, state: 'open', limit: 2, cursor: first.nextCursor! });
      expect(second.conflicts.map((c) => c.id)).toEqual([ids[3], ids[4]]);
      expect(second.nextCursor).toBeNull();
      expect((await store.list({ tenantId: tenant, state: 'resolved', limit: 10 })).conflicts.map((c) => c.id)).toEqual([ids[1]]);
      await expectSyncBridgeError(store.list({ tenantId: tenant, limit: 10, cursor: 'garbage' }), 'validation');
    });

    it('resolves an open conflict once', async () => {
      const c = await store.open(conflict(tenant));
      const resolved = await store.resolve(tenant, c.id, 'custom', '2026-03-01T10:00:00.000Z');
      expect(resolved).toMatchObject({ state: 'resolved', resolution: 'custom', resolvedAt: '2026-03-01T10:00:00.000Z' });
      expect(await store.get(tenant, c.id)).toEqual(resolved);
      await expectSyncBridgeError(store.resolve(tenant, c.id, 'local', T), 'conflict');
      await expectSyncBridgeError(store.resolve(tenant, 'cfl_missing', 'local', T), 'not_found');
    });

    it('keeps a dead letter\'s reason code through open, get, list and resolve; a conflict without one reads back without one', async () => {
      const dead = await store.open(conflict(tenant, { kind: 'retry_exhausted', reasonCode: 'configuration', reason: 'Provider x is read-only.', remote: null }));
      expect(dead.reasonCode).toBe('configuration');
      expect(await store.get(tenant, dead.id)).toMatchObject({ kind: 'retry_exhausted', reasonCode: 'configuration' });
      const parked = await store.open(conflict(tenant));
      expect((await store.get(tenant, parked.id))?.reasonCode ?? null).toBeNull();
      const listed = (await store.list({ tenantId: tenant, limit: 10 })).conflicts;
      expect(listed.map((c) => c.reasonCode ?? null)).toEqual(['configuration', null]);
      expect(await store.resolve(tenant, dead.id, 'replayed', T)).toMatchObject({ state: 'resolved', resolution: 'replayed', reasonCode: 'configuration' });
      expect(await store.get(tenant, dead.id)).toMatchObject({ reasonCode: 'configuration' });
    });

    it('counts conflicts per connection and kind', async () => {
      await store.open(conflict(tenant, { kind: 'validation_error' }));
      await store.open(conflict(tenant, { kind: 'validation_error' }));
      const done = await store.open(conflict(tenant, { kind: 'retry_exhausted', connectionId: 'con-b' }));
      await store.resolve(tenant, done.id, 'replayed', T);
      expect(await store.stats(tenant)).toEqual([
        { connectionId: 'con-a', kind: 'validation_error', open: 2, resolved: 0 },
        { connectionId: 'con-b', kind: 'retry_exhausted', open: 0, resolved: 1 },
      ]);
    });
  });
}
