import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProviderRecord } from '../../../shared/adapters/adapter';
import { contentHash } from '../../../shared/core/hash';
import { recordId } from '../../../shared/core/ids';
import { threeWayMerge, type EntityMergePolicy } from '../../../shared/core/merge';
import type { JsonObject, SyncRecord } from '../../../shared/core/model';
import { applyPage } from '../../../shared/pipeline/applyPage';
import { openDatabase, type SqliteDatabase } from '../../../shared/platform/local/database';
import { SqliteRecordStore } from '../../../shared/platform/local/sqliteRecordStore';

const scope = { tenantId: 't1', connectionId: 'c1', entity: 'customers' };
const T0 = '2026-11-23T10:00:00.000Z';
const base: JsonObject = { id: 'cus_1', name: 'Ada', phone: '1', updated_at: '2026-11-23T09:00:00Z' };
const MANUAL: EntityMergePolicy = { default: { kind: 'manual' } };

/** The pull pipeline against a real SQLite store holding one record with an unpushed local change. */
describe('applyPage merges pulled records that hold an unpushed local change', () => {
  let dir: string;
  let db: SqliteDatabase;
  let store: SqliteRecordStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'syncbridge-pullmerge-'));
    db = openDatabase(join(dir, 'db.sqlite'));
    store = new SqliteRecordStore(db);
    const data = { ...base, name: 'Ada Local' };
    const record: SyncRecord = {
      ...scope,
      id: recordId(scope.tenantId, scope.connectionId, scope.entity, 'cus_1'),
      externalId: 'cus_1',
      data,
      hash: contentHash(data),
      rawHash: null,
      version: 2,
      deleted: false,
      firstSeenAt: T0,
      lastModifiedAt: T0,
      lastAction: 'updated',
      sourceUpdatedAt: '2026-11-23T09:00:00Z',
      lastStepId: 'local:out_1',
      base,
      fieldClock: { name: { timestamp: T0, origin: 'syncbridge' } },
      pendingPush: { op: 'update', version: 2, outboxId: 'out_1', since: T0 },
    };
    await store.write([record]);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function pull(data: JsonObject, stepId = 'run_1:customers:1', mergePolicy?: EntityMergePolicy, deleted = false) {
    const page: ProviderRecord[] = [{ externalId: 'cus_1', updatedAt: String(data.updated_at), deleted, data }];
    const result = await applyPage({ records: store, scope, runId: 'run_1', stepId, mode: 'incremental', page, now: '2026-11-23T10:05:00.000Z', mergePolicy });
    return { result, record: (await store.get(scope, 'cus_1'))! };
  }

  it('names the provider as the origin of the clocks of the fields it takes (as the push side does), `remote` when not told', async () => {
    const remote = { ...base, phone: '2', updated_at: '2026-11-23T09:30:00Z' };
    const page: ProviderRecord[] = [{ externalId: 'cus_1', updatedAt: remote.updated_at, deleted: false, data: remote }];
    await applyPage({ records: store, scope, runId: 'run_1', stepId: 'run_1:customers:1', mode: 'incremental', page, now: '2026-11-23T10:05:00.000Z', remoteOrigin: 'sandbox' });
    const record = (await store.get(scope, 'cus_1'))!;
    expect(record.fieldClock?.phone).toEqual({ timestamp: '2026-11-23T09:30:00Z', origin: 'sandbox' });
    expect(record.fieldClock?.name).toEqual({ timestamp: T0, origin: 'syncbridge' });

    const again = { ...remote, phone: '3', updated_at: '2026-11-23T09:40:00Z' };
    await applyPage({ records: store, scope, runId: 'run_1', stepId: 'run_1:customers:2', mode: 'incremental', page: [{ ...page[0], updatedAt: again.updated_at, data: again }], now: '2026-11-23T10:06:00.000Z' });
    expect((await store.get(scope, 'cus_1'))!.fieldClock?.phone).toEqual({ timestamp: '2026-11-23T09:40:00Z', origin: 'remote' });
  });

  it('keeps the local change when the remote still equals the base', async () => {
    const { result, record } = await pull(base);
    expect(result.counters).toMatchObject({ unchanged: 1, updated: 0 });
    expect(record.data.name).toBe('Ada Local');
    expect(record.pendingPush?.outboxId).toBe('out_1');
  });

  it('folds a remote change of another field in, keeps the push pending, and rebases on the remote', async () => {
    const remote = { ...base, phone: '2', updated_at: '2026-11-23T09:30:00Z' };
    const { result, record } = await pull(remote);
    expect(result.counters.updated).toBe(1);
    expect(record.data).toEqual({ ...remote, name: 'Ada Local' });
    expect(record.base).toEqual(remote);
    expect(record.pendingPush?.outboxId).toBe('out_1');
  });

  it('settles the same field by the policy: source-wins drops the local change and the pending push', async () => {
    const remote = { ...base, name: 'Ada Remote', updated_at: '2026-11-23T09:30:00Z' };
    const { record } = await pull(remote, 'run_1:customers:1', { default: { kind: 'source-wins' } });
    expect(record.data).toEqual(remote);
    expect(record.pendingPush ?? null).toBeNull();
    expect(record.base ?? null).toBeNull();
  });

  it('without a policy the same field is left to a person: local value kept, the base moves to the remote in every other field', async () => {
    const remote = { ...base, name: 'Ada Remote', phone: '3', updated_at: '2026-11-23T09:30:00Z' };
    const { record } = await pull(remote);
    expect(record.data).toMatchObject({ name: 'Ada Local', phone: '3' });
    expect(record.base).toEqual({ ...remote, name: 'Ada' });
    expect(record.sourceUpdatedAt).toBe('2026-11-23T09:30:00Z');
    expect(record.pendingPush?.outboxId).toBe('out_1');
    // What the outbound worker then merges against the provider's copy: the name alone is in conflict.
    expect(threeWayMerge({ entity: 'customers', base: record.base!, local: { data: record.data }, remote: { data: remote }, policy: MANUAL }).manualFields).toEqual(['name']);
  });

  it('a field left to a person that the base lacked stays absent from the base', async () => {
    const data = { ...base, name: 'Ada Local', nickname: 'Local Nick' };
    await store.write([{ ...(await store.get(scope, 'cus_1'))!, data, hash: contentHash(data) }]);
    const remote = { ...base, nickname: 'Remote Nick', updated_at: '2026-11-23T09:30:00Z' };
    const { record } = await pull(remote);
    expect(record.data).toMatchObject({ nickname: 'Local Nick', updated_at: '2026-11-23T09:30:00Z' });
    expect(record.base).toEqual({ ...base, updated_at: '2026-11-23T09:30:00Z' });
    expect(Object.hasOwn(record.base!, 'nickname')).toBe(false);
  });

  describe('a later pull after one that left a field to a person (review finding: the base stayed behind)', () => {
    const first = { ...base, name: 'Ada Remote', phone: '3', updated_at: '2026-11-23T09:30:00Z' };

    it.each<[string, EntityMergePolicy]>([
      ['target-wins, name manual', { default: { kind: 'target-wins' }, fields: { name: { kind: 'manual' } } }],
      ['manual (the default)', MANUAL],
    ])('under %s, takes the provider\'s newer phone and settles once the provider took the local name', async (_, policy) => {
      await pull(first, 'run_1:customers:1', policy);
      // The provider takes the local name and changes the phone again.
      const second = { ...base, name: 'Ada Local', phone: '4', updated_at: '2026-11-23T10:00:00Z' };
      const { record } = await pull(second, 'run_1:customers:2', policy);
      expect(record.data).toEqual(second);
      expect(record.pendingPush ?? null).toBeNull();
      expect(record.base ?? null).toBeNull();
    });

    it('leaves the worker exactly the field in conflict when the provider changed another field again', async () => {
      await pull(first);
      const second = { ...base, name: 'Ada Remote', phone: '4', updated_at: '2026-11-23T10:00:00Z' };
      const { record } = await pull(second, 'run_1:customers:2');
      expect(record.data).toEqual({ ...second, name: 'Ada Local' });
      expect(record.pendingPush?.outboxId).toBe('out_1');
      expect(threeWayMerge({ entity: 'customers', base: record.base!, local: { data: record.data }, remote: { data: second }, policy: MANUAL }).manualFields).toEqual(['name']);
    });
  });

  it('reading back our own change (an echo) settles the record without a new push or a conflict', async () => {
    const { result, record } = await pull({ ...base, name: 'Ada Local' });
    expect(result.counters).toMatchObject({ unchanged: 1, updated: 0 });
    expect(record.pendingPush ?? null).toBeNull();
    expect(record.base ?? null).toBeNull();
    expect(record.data.name).toBe('Ada Local');
  });

  it('a remote tombstone does not delete a record with a local change', async () => {
    const { record } = await pull({ ...base, updated_at: '2026-11-23T09:30:00Z' }, 'run_1:customers:1', undefined, true);
    expect(record.deleted).toBe(false);
    expect(record.data.name).toBe('Ada Local');
  });

  it('a replayed step counts the merged record as it did the first time', async () => {
    const remote = { ...base, phone: '2', updated_at: '2026-11-23T09:30:00Z' };
    await pull(remote);
    const again = await pull(remote);
    expect(again.result.counters).toMatchObject({ updated: 1, unchanged: 0 });
  });

  it('a run\'s page listed before a webhook merged a newer provider state is skipped, not merged back in (review finding)', async () => {
    // A webhook (its step id webhook:…, deletion times kept) brings the provider's newer phone, merged with the local name.
    const page = (data: JsonObject): ProviderRecord[] => [{ externalId: 'cus_1', updatedAt: String(data.updated_at), deleted: false, data }];
    await applyPage({ records: store, scope, runId: 'run_1', stepId: 'webhook:dlv_abc', mode: 'incremental', page: page({ ...base, phone: '2', updated_at: '2026-11-23T09:30:00Z' }), now: '2026-11-23T10:05:00.000Z', keepDeletionTimes: true });
    expect(await store.get(scope, 'cus_1')).toMatchObject({ data: { phone: '2', name: 'Ada Local' }, sourceUpdatedAt: '2026-11-23T09:30:00Z', lastStepId: 'webhook:dlv_abc' });
    // The run's page was listed before that change (09:00): without the stale check the three-way
    // merge would take its phone for a remote change and roll the record and its base back.
    const { result, record } = await pull(base);
    expect(result.counters).toMatchObject({ unchanged: 1, updated: 0 });
    expect({ phone: record.data.phone, name: record.data.name, sourceUpdatedAt: record.sourceUpdatedAt, basePhone: (record.base as JsonObject | null)?.phone })
      .toEqual({ phone: '2', name: 'Ada Local', sourceUpdatedAt: '2026-11-23T09:30:00Z', basePhone: '2' });
  });
});
