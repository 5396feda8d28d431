import type { Conflict, ConflictStore } from '../../shared/ports/conflictStore';
import { expectSyncBridgeError, uniqueId, type StoreFactory, type StoreFixture } from './fixtures';

const T = '2026-03-01T09:00:00.000Z';

export function conflict(tenantId: string, overrides: Partial<Conflict> = {}): Conflict {
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

    it('claims an open conflict for one resolver at a time; the holder resolves it and the claim goes with it', async () => {
      const c = await store.open(conflict(tenant));
      const a = { by: 'resolver-a', until: '2026-03-01T09:01:00.000Z' };
      expect(await store.claim(tenant, c.id, a, T)).toEqual({ ...c, claim: a });
      expect(await store.get(tenant, c.id)).toEqual({ ...c, claim: a });
      // Another claimant, or a resolve not made by the holder, is refused while the claim holds.
      await expectSyncBridgeError(store.claim(tenant, c.id, { by: 'resolver-b', until: '2026-03-01T09:02:00.000Z' }, T), 'conflict');
      await expectSyncBridgeError(store.resolve(tenant, c.id, 'remote', T, { claimedBy: 'resolver-b' }), 'conflict');
      await expectSyncBridgeError(store.resolve(tenant, c.id, 'remote', T), 'conflict');
      // The holder may claim again (to extend) and resolves; the resolved conflict has no claim.
      expect(await store.claim(tenant, c.id, { ...a, until: '2026-03-01T09:03:00.000Z' }, T)).toMatchObject({ claim: { by: 'resolver-a', until: '2026-03-01T09:03:00.000Z' } });
      const resolved = await store.resolve(tenant, c.id, 'local', '2026-03-01T09:00:30.000Z', { claimedBy: 'resolver-a' });
      expect(resolved).toEqual({ ...c, state: 'resolved', resolution: 'local', resolvedAt: '2026-03-01T09:00:30.000Z', updatedAt: '2026-03-01T09:00:30.000Z' });
      expect(await store.get(tenant, c.id)).toEqual(resolved);
      await expectSyncBridgeError(store.claim(tenant, c.id, { by: 'resolver-b', until: '2026-03-01T09:02:00.000Z' }, T), 'conflict');
      await expectSyncBridgeError(store.claim(tenant, 'cfl_missing', a, T), 'not_found');
      await expectSyncBridgeError(store.claim(uniqueId('ten'), c.id, a, T), 'not_found');
    });

    it('lets a claim past its expiry be taken over, and the holder it was taken from can no longer resolve', async () => {
      const c = await store.open(conflict(tenant));
      await store.claim(tenant, c.id, { by: 'crashed', until: '2026-03-01T09:01:00.000Z' }, T);
      const later = '2026-03-01T09:01:00.000Z'; // the claim's `until`: expired from then on
      const taken = { by: 'resolver-b', until: '2026-03-01T09:02:00.000Z' };
      expect(await store.claim(tenant, c.id, taken, later)).toMatchObject({ state: 'open', claim: taken });
      await expectSyncBridgeError(store.resolve(tenant, c.id, 'local', later, { claimedBy: 'crashed' }), 'conflict');
      expect(await store.resolve(tenant, c.id, 'custom', later, { claimedBy: 'resolver-b' })).toMatchObject({ state: 'resolved', resolution: 'custom' });
      // An expired claim nobody took over does not stand in the way of a resolve.
      const d = await store.open(conflict(tenant));
      await store.claim(tenant, d.id, { by: 'crashed', until: '2026-03-01T09:01:00.000Z' }, T);
      expect(await store.resolve(tenant, d.id, 'remote', later)).toMatchObject({ state: 'resolved', resolution: 'remote' });
    });

    it('releases a claim for its holder only', async () => {
      const c = await store.open(conflict(tenant));
      const a = { by: 'resolver-a', until: '2026-03-01T09:01:00.000Z' };
      await store.claim(tenant, c.id, a, T);
      await store.release(tenant, c.id, 'resolver-b');
      expect(await store.get(tenant, c.id)).toEqual({ ...c, claim: a });
      await store.release(tenant, c.id, 'resolver-a');
      expect(await store.get(tenant, c.id)).toEqual(c);
      await store.release(tenant, c.id, 'resolver-a'); // nothing left to release
      await store.release(tenant, 'cfl_missing', 'resolver-a');
      expect(await store.claim(tenant, c.id, { by: 'resolver-b', until: '2026-03-01T09:01:00.000Z' }, T)).toMatchObject({ claim: { by: 'resolver-b' } });
    });

    it('lets one of two claims made at once win', async () => {
      const c = await store.open(conflict(tenant));
      const claims = await Promise.allSettled(['resolver-a', 'resolver-b'].map((by) => store.claim(tenant, c.id, { by, until: '2026-03-01T09:01:00.000Z' }, T)));
      const won = claims.filter((r): r is PromiseFulfilledResult<Conflict> => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      const lost = claims.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
      expect(lost.reason).toMatchObject({ code: 'conflict' });
      expect((await store.get(tenant, c.id))?.claim).toEqual(won[0].value.claim);
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
