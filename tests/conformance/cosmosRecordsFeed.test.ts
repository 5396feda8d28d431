import type { Container, OperationInput } from '@azure/cosmos';
import { ManualClock } from '../../shared/core/manualClock';
import type { RecordScope, SyncRecord } from '../../shared/core/model';
import { CosmosOutboxStore } from '../../shared/platform/azure/cosmos/cosmosOutboxStore';
import { CosmosRecordStore } from '../../shared/platform/azure/cosmos/cosmosRecordStore';
import type { OutboxEntry } from '../../shared/ports/outboxStore';
import { useCosmosDatabase } from '../support/cosmosServer';
import { uniqueId } from './fixtures';
import { makeRecord } from './recordStore.conformance';

const HORIZON_MS = 10_000;
const START = '2026-06-01T12:00:00.000Z';

/**
 * A client of GET /records that polls with modifiedAfter = the newest lastModifiedAt it has seen,
 * following each answer's cursor to its end (docs/admin-api.md). It remembers every version it saw.
 */
class PollingClient {
  mark: string | undefined;
  readonly seen = new Map<string, number>();

  constructor(
    private readonly store: CosmosRecordStore,
    private readonly scope: RecordScope,
  ) {}

  async poll(): Promise<void> {
    let cursor: string | undefined;
    let newest = this.mark;
    do {
      const page = await this.store.list({ ...this.scope, modifiedAfter: this.mark, cursor, limit: 40 });
      for (const record of page.records) {
        this.seen.set(record.externalId, Math.max(this.seen.get(record.externalId) ?? 0, record.version));
        if (newest === undefined || record.lastModifiedAt > newest) newest = record.lastModifiedAt;
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    this.mark = newest;
  }
}

/**
 * Holds the record container's transactional batches that `hold` picks until released: the batches
 * of one write call becoming visible one by one, or one writer's batch landing after another's.
 * The batches themselves go to the loopback server unchanged.
 */
function holdBatches(container: Container, hold: (operations: OperationInput[]) => boolean): { held: () => number; release: () => void; restore: () => void } {
  const items = container.items;
  const real = items.batch.bind(items);
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let held = 0;
  items.batch = (async (operations: OperationInput[], ...rest: unknown[]) => {
    if (hold(operations)) {
      held += 1;
      await gate;
    }
    return (real as (...args: unknown[]) => ReturnType<typeof real>)(operations, ...rest);
  }) as typeof items.batch;
  return { held: () => held, release: open, restore: () => void (items.batch = real) };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('condition never held');
}

/**
 * The records feed on Cosmos DB never makes a polling client miss a change, although a write call's
 * batches become visible one by one and racing writers can commit out of stamp order: the feed
 * lists only what is older than its settled horizon (docs/cosmos.md, "Records feed").
 */
describe('Cosmos records feed: settled horizon', () => {
  const cosmos = useCosmosDatabase();
  let clock: ManualClock;
  let store: CosmosRecordStore;
  let scope: RecordScope;
  let restore: () => void = () => undefined;

  beforeEach(() => {
    clock = new ManualClock(START);
    store = new CosmosRecordStore(cosmos.db, { clock, feedHorizonMs: HORIZON_MS });
    scope = { tenantId: uniqueId('ten'), connectionId: uniqueId('con'), entity: 'customers' };
  });
  afterEach(() => restore());

  const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);

  it('misses no record of a 250-record write whose batches become visible one by one while the client polls', async () => {
    const client = new PollingClient(store, scope);
    await store.write([makeRecord(scope, 'before', { lastModifiedAt: START })]);
    clock.advance(HORIZON_MS);
    await client.poll();
    expect([...client.seen.keys()]).toEqual(['before']);

    // The first batch of the write lands; the other two wait (a slow network, a throttled retry).
    let batches = 0;
    const hold = holdBatches(cosmos.db.container('records'), () => (batches += 1) > 1);
    restore = hold.restore;
    const big = ids(250, 'big');
    const writing = store.write(big.map((id) => makeRecord(scope, id, { lastModifiedAt: clock.now().toISOString() })));
    await until(() => hold.held() === 2);
    expect((await store.list({ ...scope, limit: 1000 })).records.length).toBeLessThan(251); // part of it is visible
    clock.advance(1_000);
    await client.poll(); // within the horizon of the write: the visible part is not listed yet
    hold.release();
    await writing;
    clock.advance(HORIZON_MS);
    await client.poll();
    expect([...client.seen.keys()].sort()).toEqual(['before', ...big].sort());
  });

  it('misses neither of two racing writers when the one stamped first commits last', async () => {
    const client = new PollingClient(store, scope);
    const isFirst = (operations: OperationInput[]) => operations.some((op) => (op as { resourceBody?: { externalId?: string } }).resourceBody?.externalId === 'first');
    const hold = holdBatches(cosmos.db.container('records'), isFirst);
    restore = hold.restore;
    // The first writer stamps (reads the partition's newest) and its batch is held; the second
    // stamps later, commits, and a client polls before the first's batch lands.
    const first = store.write([makeRecord(scope, 'first', { lastModifiedAt: clock.now().toISOString() })]);
    await until(() => hold.held() === 1);
    clock.advance(5);
    await store.write([makeRecord(scope, 'second', { lastModifiedAt: clock.now().toISOString() })]);
    const second = (await store.get(scope, 'second'))!;
    clock.advance(HORIZON_MS / 2);
    await client.poll();
    hold.release();
    await first;
    expect((await store.get(scope, 'first'))!.lastModifiedAt < second.lastModifiedAt).toBe(true); // committed out of stamp order
    clock.advance(HORIZON_MS);
    await client.poll();
    expect([...client.seen.keys()].sort()).toEqual(['first', 'second']);
  });

  it('lists a record once the horizon has passed since its write, and a cursor never passes the horizon', async () => {
    await store.write(ids(5, 'old').map((id) => makeRecord(scope, id, { lastModifiedAt: START })));
    clock.advance(HORIZON_MS);
    const written = clock.now().getTime();
    // Proposed an hour before the write (a caller's time taken long before): stamped at the write.
    await store.write([makeRecord(scope, 'late', { lastModifiedAt: new Date(written - 3_600_000).toISOString() })]);
    expect(Date.parse((await store.get(scope, 'late'))!.lastModifiedAt)).toBeGreaterThanOrEqual(written);

    clock.set(new Date(written + HORIZON_MS - 1));
    const first = await store.list({ ...scope, limit: 5 });
    expect(first.records.map((r) => r.externalId).sort()).toEqual(ids(5, 'old'));
    expect(first.nextCursor).toBeNull();
    clock.set(new Date(written + HORIZON_MS));
    const settled = await store.list({ ...scope, modifiedAfter: first.records[4].lastModifiedAt, limit: 5 });
    expect(settled.records.map((r) => r.externalId)).toEqual(['late']);
  });

  it('stamps a local change committed through the outbox by the clock too, so the horizon covers it', async () => {
    const outbox = new CosmosOutboxStore(cosmos.db, { clock });
    const record: SyncRecord = makeRecord(scope, 'edited', { lastModifiedAt: new Date(Date.parse(START) - 3_600_000).toISOString() });
    const now = clock.now().toISOString();
    const entry: OutboxEntry = { id: uniqueId('out'), tenantId: scope.tenantId, connectionId: scope.connectionId, entity: scope.entity, externalId: 'edited', recordId: record.id, version: 1, op: 'update', data: record.data, changedFields: ['name'], state: 'pending', attempts: 0, createdAt: now, updatedAt: now };
    await outbox.commitLocalChange(record, entry);
    expect(Date.parse((await store.get(scope, 'edited'))!.lastModifiedAt)).toBeGreaterThanOrEqual(Date.parse(START));
  });
});
