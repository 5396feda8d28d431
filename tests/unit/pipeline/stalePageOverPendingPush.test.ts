import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProviderRecord } from '../../../shared/adapters/adapter';
import { contentHash } from '../../../shared/core/hash';
import { recordId } from '../../../shared/core/ids';
import type { JsonObject, SyncRecord } from '../../../shared/core/model';
import { applyPage } from '../../../shared/pipeline/applyPage';
import { openDatabase, type SqliteDatabase } from '../../../shared/platform/local/database';
import { SqliteRecordStore } from '../../../shared/platform/local/sqliteRecordStore';

const scope = { tenantId: 't1', connectionId: 'c1', entity: 'customers' };
const T0 = '2026-11-23T10:00:00.000Z';
const base: JsonObject = { id: 'cus_1', name: 'Ada', phone: '1', updated_at: '2026-11-23T09:00:00Z' };

/**
 * A record holding an unpushed local change is merged with what a page brings (planMerge →
 * mergePulled), and the merge does not look at provider times: without the stale check there too,
 * a run's page listed before a webhook would roll the webhook's newer provider state back (and
 * rebase the pending push on the old state). Found in review; on the SQLite record store.
 */
describe('a stale run page over a record with a pending local change', () => {
  let dir: string;
  let db: SqliteDatabase;
  let store: SqliteRecordStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'syncbridge-review-'));
    db = openDatabase(join(dir, 'db.sqlite'));
    store = new SqliteRecordStore(db);
    const data = { ...base, name: 'Ada Local' };
    const record: SyncRecord = {
      ...scope,
      id: recordId(scope.tenantId, scope.connectionId, scope.entity, 'cus_1'),
      externalId: 'cus_1', data, hash: contentHash(data), rawHash: null, version: 2, deleted: false,
      firstSeenAt: T0, lastModifiedAt: T0, lastAction: 'updated', sourceUpdatedAt: '2026-11-23T09:00:00Z',
      lastStepId: 'local:out_1', base, fieldClock: { name: { timestamp: T0, origin: 'syncbridge' } },
      pendingPush: { op: 'update', version: 2, outboxId: 'out_1', since: T0 },
    };
    await store.write([record]);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const apply = (data: JsonObject, stepId: string, webhook: boolean) => {
    const page: ProviderRecord[] = [{ externalId: 'cus_1', updatedAt: String(data.updated_at), deleted: false, data }];
    return applyPage({ records: store, scope, runId: 'run_1', stepId, mode: 'incremental', page, now: '2026-11-23T10:05:00.000Z', keepDeletionTimes: webhook });
  };

  it('keeps the webhook state when the run applies a page listed before it', async () => {
    // A webhook brings the provider's newer phone (09:30); merged with the local name change.
    await apply({ ...base, phone: '2', updated_at: '2026-11-23T09:30:00Z' }, 'webhook:dlv_abc', true);
    const afterWebhook = (await store.get(scope, 'cus_1'))!;
    expect(afterWebhook).toMatchObject({ data: { phone: '2', name: 'Ada Local' }, sourceUpdatedAt: '2026-11-23T09:30:00Z', lastStepId: 'webhook:dlv_abc' });

    // The run's page was listed before that change (09:00): it must be skipped, as for a record without a local change.
    await apply(base, 'run_1:customers:1', false);
    const record = (await store.get(scope, 'cus_1'))!;
    expect({ phone: record.data.phone, name: record.data.name, sourceUpdatedAt: record.sourceUpdatedAt, basePhone: (record.base as JsonObject | null)?.phone })
      .toEqual({ phone: '2', name: 'Ada Local', sourceUpdatedAt: '2026-11-23T09:30:00Z', basePhone: '2' });
  });
});
