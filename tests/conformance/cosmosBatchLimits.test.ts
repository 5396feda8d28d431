import type { OperationInput, PartitionKey } from '@azure/cosmos';
import type { ProviderRecord } from '../../shared/adapters/adapter';
import { isSyncBridgeError } from '../../shared/core/errors';
import type { CosmosDatabase } from '../../shared/platform/azure/cosmos/cosmosDatabase';
import { CosmosRecordStore } from '../../shared/platform/azure/cosmos/cosmosRecordStore';
import { applyPage } from '../../shared/pipeline/applyPage';
import { startCosmosServer, type RunningCosmosServer } from '../support/cosmosServer';
import { uniqueId } from './fixtures';
import { makeRecord } from './recordStore.conformance';

/** Cosmos DB's limits on one transactional batch (service quotas): 100 operations, 2 MB of payload. */
const COSMOS_BATCH_OPERATIONS = 100;
const COSMOS_BATCH_BYTES = 2 * 1024 * 1024;

interface SentBatch { operations: number; bytes: number }

/**
 * @vercel/cosmosdb-server accepts batches of any size, so these tests measure what the store sends:
 * the real container's `items.batch` is wrapped to note each batch's operation count and body size,
 * measured as the SDK serialises it (the operations array as JSON, each partition key as JSON text),
 * then called as before.
 */
function recordBatches(db: CosmosDatabase): SentBatch[] {
  const items = db.container('records').items;
  const sent: SentBatch[] = [];
  const real = items.batch.bind(items);
  items.batch = (async (operations: OperationInput[], partitionKey?: PartitionKey, options?: unknown) => {
    const body = operations.map((op) => ({ ...op, partitionKey: op.partitionKey === undefined ? undefined : JSON.stringify(op.partitionKey) }));
    sent.push({ operations: operations.length, bytes: Buffer.byteLength(JSON.stringify(body), 'utf8') });
    return real(operations, partitionKey, options as never);
  }) as typeof items.batch;
  return sent;
}

function expectWithinLimits(sent: readonly SentBatch[]): void {
  expect(sent.length).toBeGreaterThan(0);
  for (const batch of sent) {
    expect(batch.operations).toBeLessThanOrEqual(COSMOS_BATCH_OPERATIONS);
    expect(batch.bytes).toBeLessThanOrEqual(COSMOS_BATCH_BYTES);
  }
}

const NOTES_30_KB = 'x'.repeat(30_000);

describe('Cosmos stores keep each batch within Cosmos DB limits (100 operations, 2 MB)', () => {
  let server: RunningCosmosServer;
  let db: CosmosDatabase;
  let sent: SentBatch[];
  beforeAll(async () => {
    server = await startCosmosServer();
    db = await server.freshDatabase();
    sent = recordBatches(db);
  });
  afterAll(async () => server?.close());
  beforeEach(() => {
    sent.length = 0;
  });

  const newScope = () => ({ tenantId: uniqueId('ten'), connectionId: uniqueId('con'), entity: 'contacts' });

  it('writes a pulled page of 200 new 30 KB records in batches under 2 MB (the pipeline: applyPage → writePlanned)', async () => {
    const records = new CosmosRecordStore(db);
    const scope = newScope();
    const page: ProviderRecord[] = Array.from({ length: 200 }, (_, i) => ({ externalId: `c${i}`, updatedAt: '2026-01-01T00:00:00.000Z', deleted: false, data: { i, notes: NOTES_30_KB } }));
    const result = await applyPage({ records, scope, runId: 'run_1', stepId: 'run_1:contacts:1', mode: 'full', page, now: '2026-01-02T00:00:00.000Z' });
    expect(result.counters).toMatchObject({ created: 200, failed: 0 });
    expectWithinLimits(sent);
    expect(await records.count(scope)).toBe(200);
  });

  it('splits an unconditional write of 200 records of 30 KB by size as well as by count', async () => {
    const records = new CosmosRecordStore(db);
    const scope = newScope();
    await records.write(Array.from({ length: 200 }, (_, i) => makeRecord(scope, `c${i}`, { data: { notes: NOTES_30_KB } })));
    expectWithinLimits(sent);
    expect(sent.reduce((n, b) => n + b.operations, 0)).toBe(200);
    expect(await records.count(scope)).toBe(200);
  });

  it('sweeps 150 unseen records of 30 KB (whole-document tombstones) in batches under 2 MB', async () => {
    const records = new CosmosRecordStore(db);
    const scope = newScope();
    await records.write(Array.from({ length: 150 }, (_, i) => makeRecord(scope, `c${i}`, { data: { notes: NOTES_30_KB } })));
    await records.markSeen('run_sweep', scope, []); // the run listed nothing: its seen-set is open and empty
    sent.length = 0;
    const now = new Date().toISOString();
    const swept = await records.sweepUnseen('run_sweep', scope, 'run_sweep:contacts:sweep', now, now);
    expect(swept).toBe(150);
    expectWithinLimits(sent);
    expect(await records.count(scope)).toBe(0);
  });

  it('refuses a record whose document is over 2 MB with validation naming it, and sends nothing', async () => {
    const records = new CosmosRecordStore(db);
    const scope = newScope();
    const big = makeRecord(scope, 'huge-1', { data: { notes: 'y'.repeat(2_100_000) } });
    const error = await records.write([makeRecord(scope, 'small-1'), big]).catch((e: unknown) => e);
    expect(isSyncBridgeError(error, 'validation')).toBe(true);
    expect((error as Error).message).toContain('contacts/huge-1');
    const conditional = await records.write([{ ...big, ifRevision: null }]).catch((e: unknown) => e);
    expect(isSyncBridgeError(conditional, 'validation')).toBe(true);
    expect(sent).toEqual([]);
  });

  it('rejects an oversized record of a pulled page as failed, and writes the rest of the page', async () => {
    const records = new CosmosRecordStore(db);
    const scope = newScope();
    const page: ProviderRecord[] = [
      { externalId: 'ok-1', updatedAt: null, deleted: false, data: { name: 'Ada' } },
      { externalId: 'huge-1', updatedAt: null, deleted: false, data: { notes: 'y'.repeat(2_100_000) } },
      { externalId: 'ok-2', updatedAt: null, deleted: false, data: { name: 'Grace' } },
    ];
    const result = await applyPage({ records, scope, runId: 'run_2', stepId: 'run_2:contacts:1', mode: 'incremental', page, now: '2026-01-02T00:00:00.000Z' });
    expect(result.counters).toMatchObject({ created: 2, failed: 1 });
    expect(result.rejected).toEqual([{ externalId: 'huge-1', reasons: [expect.stringContaining('bytes as JSON')] }]);
    expect(await records.get(scope, 'ok-2')).toBeDefined();
    expect(await records.get(scope, 'huge-1')).toBeUndefined();
    expectWithinLimits(sent);
  });
});
