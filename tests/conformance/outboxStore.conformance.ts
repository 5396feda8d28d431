import { contentHash } from '../../shared/core/hash';
import { recordId } from '../../shared/core/ids';
import { outboxId } from '../../shared/core/outbound/outboxId';
import type { JsonObject, RecordScope, SyncRecord } from '../../shared/core/model';
import type { OutboxEntry, OutboxStore } from '../../shared/ports/outboxStore';
import type { RecordStore } from '../../shared/ports/recordStore';
import { expectSyncBridgeError, uniqueId, type StoreFactory, type StoreFixture } from './fixtures';

const T = '2026-03-01T09:00:00.000Z';

/** The outbox commits with records, so its suite gets both stores of one backend. */
export interface OutboxStores {
  outbox: OutboxStore;
  records: RecordStore;
}

/** A local change: the record as it is committed and its pending outbox entry. */
export function change(scope: RecordScope, externalId: string, version: number, data: JsonObject): { record: SyncRecord; entry: OutboxEntry } {
  const id = recordId(scope.tenantId, scope.connectionId, scope.entity, externalId);
  const entryId = outboxId(id, version);
  const record: SyncRecord = {
    ...scope,
    id,
    externalId,
    data,
    hash: contentHash(data),
    rawHash: null,
    version,
    deleted: false,
    deletedAt: null,
    sourceUpdatedAt: null,
    firstSeenAt: T,
    // Later versions are later writes: a store stamps a write after what it committed before.
    lastModifiedAt: new Date(Date.parse(T) + version * 1000).toISOString(),
    lastAction: 'updated',
    lastStepId: `local:${entryId}`,
    base: { name: 'before' },
    pendingPush: { op: 'update', version, outboxId: entryId, since: T },
  };
  const entry: OutboxEntry = {
    id: entryId,
    ...scope,
    externalId,
    recordId: id,
    version,
    op: 'update',
    data,
    changedFields: Object.keys(data),
    state: 'pending',
    attempts: 0,
    createdAt: T,
    updatedAt: T,
  };
  return { record, entry };
}

/** The OutboxStore port's semantics (shared/ports/outboxStore.ts), run against every implementation. */
export function outboxStoreConformance(name: string, factory: StoreFactory<OutboxStores>): void {
  describe(`OutboxStore conformance: ${name}`, () => {
    let fixture: StoreFixture<OutboxStores>;
    let scope: RecordScope;

    beforeEach(async () => {
      fixture = await factory();
      scope = { tenantId: uniqueId('ten'), connectionId: uniqueId('con'), entity: 'customers' };
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('commits the record and its entry together', async () => {
      const { record, entry } = change(scope, 'c1', 2, { name: 'after' });
      await fixture.store.outbox.commitLocalChange(record, entry);
      expect(await fixture.store.records.get(scope, 'c1')).toEqual(record);
      expect(await fixture.store.outbox.get(entry.id)).toEqual(entry);
      expect(await fixture.store.outbox.listPending({ connectionId: scope.connectionId, limit: 10 })).toEqual([entry]);
    });

    it('keeps the create an entry follows (priorCreate) through commit, listing and update', async () => {
      const first = change(scope, 'local-1', 1, { name: 'created' });
      const created = { ...first.entry, op: 'create' as const };
      await fixture.store.outbox.commitLocalChange(first.record, created);
      const later = change(scope, 'local-1', 2, { name: 'edited' });
      const edit = { ...later.entry, op: 'create' as const, priorCreate: created.id };
      await fixture.store.outbox.commitLocalChange(later.record, edit);
      expect(await fixture.store.outbox.get(edit.id)).toEqual(edit);
      expect((await fixture.store.outbox.listPending({ connectionId: scope.connectionId, limit: 10 })).map((e) => e.priorCreate)).toEqual([undefined, created.id]);
      expect(await fixture.store.outbox.update(edit.id, { state: 'done' }, T)).toMatchObject({ priorCreate: created.id });
      expect(await fixture.store.outbox.get(edit.id)).toMatchObject({ state: 'done', priorCreate: created.id });
      expect(await fixture.store.outbox.get(created.id)).not.toHaveProperty('priorCreate');
    });

    it('refuses an entry id that exists and then writes neither the record nor the entry', async () => {
      const first = change(scope, 'c1', 2, { name: 'first' });
      await fixture.store.outbox.commitLocalChange(first.record, first.entry);
      const second = change(scope, 'c1', 2, { name: 'second' });
      await expectSyncBridgeError(fixture.store.outbox.commitLocalChange(second.record, second.entry), 'conflict');
      expect((await fixture.store.records.get(scope, 'c1'))?.data).toEqual({ name: 'first' });
      expect((await fixture.store.outbox.get(first.entry.id))?.data).toEqual({ name: 'first' });
    });

    it('commits records alongside in the same transaction, and none of them when the entry id is taken', async () => {
      const moved = change(scope, 'p1', 2, { name: 'moved' });
      const tombstone = { ...change(scope, 'local-1', 3, { name: 'moved' }).record, deleted: true, deletedAt: T };
      await fixture.store.outbox.commitLocalChange(moved.record, moved.entry, [tombstone]);
      expect(await fixture.store.records.get(scope, 'local-1')).toMatchObject({ deleted: true, version: 3 });
      expect(await fixture.store.records.get(scope, 'p1')).toEqual(moved.record);

      const again = change(scope, 'p1', 2, { name: 'again' });
      const other = change(scope, 'local-2', 1, { name: 'never' }).record;
      await expectSyncBridgeError(fixture.store.outbox.commitLocalChange(again.record, again.entry, [other]), 'conflict');
      expect(await fixture.store.records.get(scope, 'local-2')).toBeUndefined();
      await expectSyncBridgeError(fixture.store.outbox.commitLocalChange(other, change(scope, 'local-2', 1, {}).entry, [{ ...other, entity: 'orders' }]), 'internal');
    });

    it('commits a change whose record is unchanged since it was read (ifRevision)', async () => {
      const first = change(scope, 'c1', 2, { name: 'first' });
      await fixture.store.outbox.commitLocalChange(first.record, first.entry);
      const { revision } = (await fixture.store.records.getWithRevision(scope, 'c1'))!;
      const second = change(scope, 'c1', 3, { name: 'second' });
      await fixture.store.outbox.commitLocalChange({ ...second.record, ifRevision: revision }, second.entry);
      expect(await fixture.store.records.get(scope, 'c1')).toEqual(second.record);
      expect(await fixture.store.outbox.get(second.entry.id)).toEqual(second.entry);
    });

    it('refuses a change whose record was written since it was read, and writes neither record, entry nor records alongside', async () => {
      const first = change(scope, 'c1', 2, { name: 'first' });
      await fixture.store.outbox.commitLocalChange(first.record, first.entry);
      const stale = (await fixture.store.records.getWithRevision(scope, 'c1'))!.revision;
      // The outbound worker records the push of version 2 in between: same version, settled.
      const { base: _base, pendingPush: _pending, ...settled } = first.record;
      const agreed: SyncRecord = { ...settled, lastStepId: `push:${first.entry.id}`, lastModifiedAt: '2026-03-01T09:00:02.500Z' };
      await fixture.store.records.write([agreed]);
      const late = change(scope, 'c1', 3, { name: 'built on the unsettled read' });
      const alongside = change(scope, 'local-9', 1, { name: 'never' }).record;
      await expectSyncBridgeError(fixture.store.outbox.commitLocalChange({ ...late.record, ifRevision: stale }, late.entry, [alongside]), 'conflict');
      expect(await fixture.store.records.get(scope, 'c1')).toEqual(agreed);
      expect(await fixture.store.outbox.get(late.entry.id)).toBeUndefined();
      expect(await fixture.store.records.get(scope, 'local-9')).toBeUndefined();
      expect((await fixture.store.outbox.listPending({ connectionId: scope.connectionId, limit: 10 })).map((e) => e.id)).toEqual([first.entry.id]);
    });

    it('lists pending entries oldest first, per connection, and forgets them once done', async () => {
      const other = { ...scope, connectionId: uniqueId('con') };
      const a = change(scope, 'a', 2, { name: 'a' });
      const b = change(scope, 'b', 2, { name: 'b' });
      const c = change(other, 'c', 2, { name: 'c' });
      for (const x of [a, b, c]) await fixture.store.outbox.commitLocalChange(x.record, x.entry);
      expect((await fixture.store.outbox.listPending({ connectionId: scope.connectionId, limit: 10 })).map((e) => e.externalId)).toEqual(['a', 'b']);
      expect((await fixture.store.outbox.listPending({ limit: 1 })).length).toBe(1);
      const done = await fixture.store.outbox.update(a.entry.id, { state: 'done', attempts: 1 }, '2026-03-01T09:01:00.000Z');
      expect(done).toMatchObject({ state: 'done', attempts: 1, updatedAt: '2026-03-01T09:01:00.000Z' });
      expect((await fixture.store.outbox.listPending({ connectionId: scope.connectionId, limit: 10 })).map((e) => e.externalId)).toEqual(['b']);
    });

    it('keeps the last error on update and fails for an unknown id', async () => {
      const a = change(scope, 'a', 2, { name: 'a' });
      await fixture.store.outbox.commitLocalChange(a.record, a.entry);
      await fixture.store.outbox.update(a.entry.id, { state: 'dead', lastError: 'Retries ran out.' }, T);
      expect(await fixture.store.outbox.get(a.entry.id)).toMatchObject({ state: 'dead', lastError: 'Retries ran out.', attempts: 0 });
      await expectSyncBridgeError(fixture.store.outbox.update('out_missing', { state: 'done' }, T), 'not_found');
    });

    it('records when the next attempt is due, keeps it through updates that do not name it, and clears it with null', async () => {
      const a = change(scope, 'a', 2, { name: 'a' });
      await fixture.store.outbox.commitLocalChange(a.record, a.entry);
      const scheduled = await fixture.store.outbox.update(a.entry.id, { state: 'pending', attempts: 1, lastError: 'HTTP 429', nextAttemptAt: '2026-03-01T09:10:00.000Z' }, '2026-03-01T09:00:05.000Z');
      expect(scheduled).toMatchObject({ nextAttemptAt: '2026-03-01T09:10:00.000Z', updatedAt: '2026-03-01T09:00:05.000Z' });
      expect(await fixture.store.outbox.get(a.entry.id)).toMatchObject({ nextAttemptAt: '2026-03-01T09:10:00.000Z', attempts: 1 });
      await fixture.store.outbox.update(a.entry.id, { state: 'pending', lastError: 'HTTP 503' }, '2026-03-01T09:10:01.000Z');
      expect(await fixture.store.outbox.get(a.entry.id)).toMatchObject({ nextAttemptAt: '2026-03-01T09:10:00.000Z', lastError: 'HTTP 503' });
      await fixture.store.outbox.update(a.entry.id, { state: 'pending', nextAttemptAt: null }, '2026-03-01T09:10:02.000Z');
      expect((await fixture.store.outbox.get(a.entry.id))?.nextAttemptAt ?? null).toBeNull();
    });

    it('lists with idleSince only entries neither updated nor due after it, and applies the limit after that filter', async () => {
      const idle = (at: string, connectionId?: string) => fixture.store.outbox.listPending({ connectionId: connectionId ?? scope.connectionId, limit: 10, idleSince: at });
      const ids = async (at: string, connectionId?: string) => (await idle(at, connectionId)).map((e) => e.externalId);
      // Committed at T, never sent: idle from T on.
      const lost = change(scope, 'lost', 2, { name: 'lost' });
      // Retried at T+1 min, its retry due at T+10 min (a Retry-After): idle from T+10 min on.
      const waiting = change(scope, 'waiting', 2, { name: 'waiting' });
      // Updated at T+2 min, its retry due at once: idle from T+2 min on.
      const retried = change(scope, 'retried', 2, { name: 'retried' });
      for (const x of [waiting, retried, lost]) await fixture.store.outbox.commitLocalChange(x.record, x.entry);
      await fixture.store.outbox.update(waiting.entry.id, { state: 'pending', attempts: 1, nextAttemptAt: '2026-03-01T09:10:00.000Z' }, '2026-03-01T09:01:00.000Z');
      await fixture.store.outbox.update(retried.entry.id, { state: 'pending', attempts: 1, nextAttemptAt: '2026-03-01T09:02:00.000Z' }, '2026-03-01T09:02:00.000Z');

      expect(await ids('2026-03-01T08:59:59.999Z')).toEqual([]);
      expect(await ids(T)).toEqual(['lost']);
      expect(await ids('2026-03-01T09:05:00.000Z')).toEqual(['retried', 'lost']);
      expect(await ids('2026-03-01T09:09:59.999Z')).toEqual(['retried', 'lost']);
      expect(await ids('2026-03-01T09:10:00.000Z')).toEqual(['waiting', 'retried', 'lost']);
      // The limit counts idle entries only: the oldest, still waiting, does not hide the lost one.
      expect((await fixture.store.outbox.listPending({ connectionId: scope.connectionId, limit: 1, idleSince: T })).map((e) => e.externalId)).toEqual(['lost']);
      // Without a connection, and for another connection.
      expect((await fixture.store.outbox.listPending({ limit: 1000, idleSince: T })).map((e) => e.id)).toContain(lost.entry.id);
      expect((await fixture.store.outbox.listPending({ limit: 1000, idleSince: T })).map((e) => e.id)).not.toContain(waiting.entry.id);
      expect(await ids('2026-03-01T09:10:00.000Z', uniqueId('con'))).toEqual([]);
      // Cleared (a replay sends at once): idle from its update again; done entries are never listed.
      await fixture.store.outbox.update(waiting.entry.id, { state: 'pending', nextAttemptAt: null }, '2026-03-01T09:03:00.000Z');
      expect(await ids('2026-03-01T09:03:00.000Z')).toEqual(['waiting', 'retried', 'lost']);
      await fixture.store.outbox.update(lost.entry.id, { state: 'done' }, '2026-03-01T09:00:30.000Z');
      expect(await ids('2026-03-01T09:10:00.000Z')).toEqual(['waiting', 'retried']);
    });

    it('never loses one of two concurrent updates silently: both apply in turn, or one is refused as a conflict', async () => {
      const a = change(scope, 'a', 2, { name: 'a' });
      await fixture.store.outbox.commitLocalChange(a.record, a.entry);
      const results = await Promise.allSettled([
        fixture.store.outbox.update(a.entry.id, { state: 'pending', attempts: 3 }, T),
        fixture.store.outbox.update(a.entry.id, { state: 'pending', lastError: 'HTTP 503' }, T),
      ]);
      const stored = await fixture.store.outbox.get(a.entry.id);
      if (results.every((r) => r.status === 'fulfilled')) {
        expect(stored).toMatchObject({ attempts: 3, lastError: 'HTTP 503' }); // the second built on the first
      } else {
        const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(refused).toHaveLength(1);
        expect(refused[0].reason).toMatchObject({ code: 'conflict' });
        const applied = results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ attempts: number; lastError?: string | null }>;
        expect(stored!.attempts).toBe(applied.value.attempts);
        expect(stored!.lastError ?? null).toBe(applied.value.lastError ?? null);
      }
    });
  });
}
