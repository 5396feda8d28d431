import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentHash } from '../../shared/core/hash';
import { recordId } from '../../shared/core/ids';
import type { RecordScope, SyncRecord } from '../../shared/core/model';
import { openDatabase, type SqliteDatabase } from '../../shared/platform/local/database';
import { SqliteSeenSets } from '../../shared/platform/local/sqliteSeenSets';
import { SqliteRecordStore } from '../../shared/platform/local/sqliteRecordStore';
import { makeRecord as makeConformanceRecord } from './recordStore.conformance';

const scope: RecordScope = { tenantId: 'ten_local', connectionId: 'con_local', entity: 'customers' };

/** Records of ~1 KB, as the store's size assumptions are about. */
function makeRecord(externalId: string, overrides: Partial<SyncRecord> = {}): SyncRecord {
  const data = { name: `Customer ${externalId}`, notes: 'n'.repeat(800) };
  return makeConformanceRecord(scope, externalId, { data, hash: contentHash(data), ...overrides });
}

/** Behaviour only the embedded store promises: one transaction per batch, durability, query plans. */
describe('SqliteRecordStore (local guarantees)', () => {
  let dir: string;
  let db: SqliteDatabase;
  let store: SqliteRecordStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncbridge-records-'));
    db = openDatabase(join(dir, 'syncbridge.db'));
    store = new SqliteRecordStore(db);
  });
  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes one conditional record from the revision it expects, and names what it found when the condition fails', async () => {
    await store.write([makeRecord('a')]);
    const { revision } = (await store.getWithRevision(scope, 'a'))!;
    await store.write([{ ...makeRecord('a', { version: 2 }), ifRevision: revision }]);
    const next = (await store.getWithRevision(scope, 'a'))!.revision;
    expect(Number(next)).toBe(Number(revision) + 1);
    await expect(store.write([{ ...makeRecord('a', { version: 3 }), ifRevision: revision }])).rejects.toThrow(`Record a was written since it was read (revision ${next}, expected ${revision}).`);
    await expect(store.write([{ ...makeRecord('b'), ifRevision: revision }])).rejects.toThrow(`Record b was written since it was read (revision none, expected ${revision}).`);
    await expect(store.write([{ ...makeRecord('a', { version: 3 }), ifRevision: null }])).rejects.toThrow(`Record a was written since it was read (revision ${next}, expected none).`);
    expect(await store.get(scope, 'b')).toBeUndefined();
    expect((await store.get(scope, 'a'))!.version).toBe(2);
    // Only the exact string it hands out matches a revision; a record not stored matches none.
    for (const near of ['', `${next}.0`, ` ${next}`, `0${next}`, `${next}e0`, '-1', 'none']) {
      await expect(store.write([{ ...makeRecord('a', { version: 9 }), ifRevision: near }])).rejects.toMatchObject({ code: 'conflict' });
      await expect(store.write([{ ...makeRecord('c'), ifRevision: near }])).rejects.toMatchObject({ code: 'conflict' });
    }
    expect(await store.get(scope, 'c')).toBeUndefined();
    expect((await store.get(scope, 'a'))!.version).toBe(2);
    // A row the table refuses: under a failed condition the conflict is what the caller hears.
    const refused = { lastModifiedAt: null as unknown as string };
    await expect(store.write([{ ...makeRecord('a', refused), ifRevision: revision }])).rejects.toMatchObject({ code: 'conflict' });
    await expect(store.write([{ ...makeRecord('a', refused), ifRevision: next }])).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_NOTNULL' });
    await expect(store.write([{ ...makeRecord('d', refused), ifRevision: null }])).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_NOTNULL' });
    // Any other failure of the statement is reported as it is, failed condition or not.
    const unbindable = { sourceUpdatedAt: { not: 'a time' } as unknown as string };
    await expect(store.write([{ ...makeRecord('a', unbindable), ifRevision: revision }])).rejects.toThrow(/Too few parameter values/);
    expect((await store.get(scope, 'a'))!.version).toBe(2);
  });

  it('writes a batch all or nothing: one bad record leaves none of the batch behind', async () => {
    await store.write([makeRecord('kept')]);
    const batch = [makeRecord('a'), makeRecord('b'), makeRecord('broken', { lastModifiedAt: null as unknown as string }), makeRecord('c')];
    // Matched by code, not by class: the native driver's error class may come from another test
    // file's module realm when jest reuses a worker, so `instanceof Error` is not reliable here.
    await expect(store.write(batch)).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_NOTNULL' });
    expect(await store.count(scope, { includeDeleted: true })).toBe(1);
    expect(await store.get(scope, 'a')).toBeUndefined();
  });

  it('keeps records, tombstones and seen-sets across a close and reopen of the file', async () => {
    await store.write([makeRecord('a'), makeRecord('b'), makeRecord('c')]);
    await store.markSeen('run_2', scope, ['a']);
    db.close();
    db = openDatabase(join(dir, 'syncbridge.db'));
    const reopened = new SqliteRecordStore(db);
    expect(await reopened.get(scope, 'b')).toEqual(makeRecord('b'));
    expect(await reopened.sweepUnseen('run_2', scope, 'run_2:finalize:customers', '2026-03-02T00:00:00.000Z', '2026-03-02T00:00:00.000Z')).toBe(2);
    expect(await reopened.count(scope)).toBe(1);
  });

  it('adds the revision column to a file made before it existed; compare-and-set works on the old rows', async () => {
    await store.write([makeRecord('old')]);
    db.exec('ALTER TABLE records DROP COLUMN revision');
    db.close();
    db = openDatabase(join(dir, 'syncbridge.db'));
    const reopened = new SqliteRecordStore(db);
    const read = await reopened.getWithRevision(scope, 'old');
    expect(read?.record).toEqual(makeRecord('old'));
    await reopened.write([{ ...makeRecord('old', { version: 2 }), ifRevision: read!.revision }]);
    await expect(reopened.write([{ ...makeRecord('old', { version: 3 }), ifRevision: read!.revision }])).rejects.toMatchObject({ code: 'conflict' });
    expect((await reopened.get(scope, 'old'))?.version).toBe(2);
  });

  it('adds the link columns of a moved record (moved_to, previous_ids) to a file made before they existed', async () => {
    await store.write([makeRecord('old')]);
    db.exec('ALTER TABLE records DROP COLUMN moved_to');
    db.exec('ALTER TABLE records DROP COLUMN previous_ids');
    db.close();
    db = openDatabase(join(dir, 'syncbridge.db'));
    const reopened = new SqliteRecordStore(db);
    expect(await reopened.get(scope, 'old')).toEqual(makeRecord('old'));
    const later = '2026-03-01T09:00:01.000Z';
    const moved = makeRecord('p1', { previousIds: ['old'], lastModifiedAt: later });
    const tombstone = makeRecord('old', { version: 2, deleted: true, deletedAt: later, lastModifiedAt: later, lastAction: 'deleted', movedTo: 'p1' });
    await reopened.write([moved, tombstone]);
    expect(await reopened.get(scope, 'p1')).toEqual(moved);
    expect(await reopened.get(scope, 'old')).toEqual(tombstone);
    expect((await reopened.getStates(scope, ['old'])).get('old')?.movedTo).toBe('p1');
  });

  it('refuses a conditional write after a write through another handle on the file (another process)', async () => {
    await store.write([makeRecord('shared')]);
    const { revision } = (await store.getWithRevision(scope, 'shared'))!;
    const secondHandle = openDatabase(join(dir, 'syncbridge.db'));
    await new SqliteRecordStore(secondHandle).write([makeRecord('shared', { version: 2, lastStepId: 'other process' })]);
    secondHandle.close();
    await expect(store.write([{ ...makeRecord('shared', { version: 2 }), ifRevision: revision }])).rejects.toMatchObject({ code: 'conflict' });
    expect((await store.get(scope, 'shared'))?.lastStepId).toBe('other process');
  });

  it('shares one file between two store instances (as two processes would) without mixing scopes', async () => {
    const secondHandle = openDatabase(join(dir, 'syncbridge.db'));
    const other = new SqliteRecordStore(secondHandle);
    const orders = { ...scope, entity: 'orders' };
    await other.write([{ ...makeRecord('o1'), ...orders, id: recordId(orders.tenantId, orders.connectionId, 'orders', 'o1') }]);
    await store.write([makeRecord('c1')]);
    expect((await store.get(orders, 'o1'))?.entity).toBe('orders');
    expect((await other.get(scope, 'c1'))?.entity).toBe('customers');
    const all = await store.list({ tenantId: scope.tenantId, connectionId: scope.connectionId, limit: 10 });
    expect(all.records.map((r) => `${r.entity}/${r.externalId}`).sort()).toEqual(['customers/c1', 'orders/o1']);
    secondHandle.close();
  });

  it('does not trust scope keys created inside a caller\'s transaction that rolled back', async () => {
    const orders: RecordScope = { ...scope, entity: 'orders' };
    const order = { ...makeRecord('o1'), ...orders, id: recordId(orders.tenantId, orders.connectionId, 'orders', 'o1') };
    // An outbox-style caller wraps the write in its own transaction, which then fails.
    expect(() =>
      db.transaction(() => {
        void store.write([order]);
        throw new Error('outbox insert failed');
      })(),
    ).toThrow('outbox insert failed');
    // Another process now creates a different scope, which may get the key that was rolled back.
    const secondHandle = openDatabase(join(dir, 'syncbridge.db'));
    const invoices: RecordScope = { ...scope, entity: 'invoices' };
    await new SqliteRecordStore(secondHandle).write([{ ...makeRecord('i1'), ...invoices, id: recordId(invoices.tenantId, invoices.connectionId, 'invoices', 'i1') }]);
    secondHandle.close();
    await store.write([order]);
    expect((await store.get(orders, 'o1'))?.entity).toBe('orders');
    expect((await store.getStates(invoices, ['o1'])).size).toBe(0);
    expect(await store.count(invoices)).toBe(1);
  });

  it('serves every read path from an index, never a table scan or a sort', async () => {
    await store.markSeen('r', scope, ['a']); // creates run r's seen table
    const seen = SqliteSeenSets.tableName('r');
    // The same statement shapes the store prepares (sqliteRecordStore.ts), with literals for parameters.
    const plans = [
      'SELECT external_id, hash FROM records WHERE scope_key = 1 AND external_id IN (SELECT value FROM json_each(\'["a"]\'))',
      'SELECT * FROM records WHERE scope_key = 1 AND (last_modified_at, row_key) > (\'x\', 1) ORDER BY last_modified_at, row_key LIMIT 10',
      'SELECT * FROM records WHERE connection_key = 1 AND last_modified_at > \'x\' AND deleted = 0 ORDER BY last_modified_at, row_key LIMIT 10',
      `UPDATE records SET deleted = 1 WHERE scope_key = 1 AND deleted = 0 AND NOT EXISTS (
         SELECT 1 FROM ${seen} s WHERE s.scope_key = 1 AND s.external_id = records.external_id)`,
    ].map((sql) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((row) => row.detail).join(' | '));
    for (const plan of plans) {
      expect(plan).not.toMatch(/SCAN records|SCAN record_seen|TEMP B-TREE/);
      expect(plan).toMatch(/USING (COVERING |PRIMARY KEY|INDEX)|USING INDEX/);
    }
  });
});
