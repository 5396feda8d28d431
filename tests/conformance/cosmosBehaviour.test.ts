import type { Container, FeedResponse } from '@azure/cosmos';
import type { CosmosDatabase } from '../../shared/platform/azure/cosmos/cosmosDatabase';
import { conflict as makeConflict } from './conflictStore.conformance';
import { uniqueId } from './fixtures';
import { makeRecord } from './recordStore.conformance';
import { makeRun } from './runStore.conformance';
import { CosmosConflictStore } from '../../shared/platform/azure/cosmos/cosmosConflictStore';
import type { ConflictKind, ConflictStats } from '../../shared/ports/conflictStore';
import { CosmosLeaseStore } from '../../shared/platform/azure/cosmos/cosmosLeaseStore';
import { CosmosRecordStore } from '../../shared/platform/azure/cosmos/cosmosRecordStore';
import { CosmosRunStore } from '../../shared/platform/azure/cosmos/cosmosRunStore';
import { isSyncBridgeError } from '../../shared/core/errors';
import { useCosmosDatabase } from '../support/cosmosServer';

/** Wraps the container's queries to count the documents (rows) they bring back, then calls them as before. */
function countReturnedRows(container: Container): { rows: number } {
  const counter = { rows: 0 };
  const items = container.items;
  const real = items.query.bind(items);
  items.query = ((...args: Parameters<typeof items.query>) => {
    const iterator = real(...args);
    const fetchAll = iterator.fetchAll.bind(iterator);
    iterator.fetchAll = async () => {
      const response = await fetchAll();
      counter.rows += response.resources.length;
      return response;
    };
    return iterator;
  }) as typeof items.query;
  return counter;
}

/**
 * Another instance's view of `runs` whose queries are served by a replica that stopped applying
 * writes after it first answered them: each query (text and parameters) is answered, from then on,
 * with what the real server answered the first time. That is what Session consistency allows a
 * client that does not hold the writer's session token. Point reads and writes go to the server
 * as they are (the loopback server itself is linearizable).
 */
function laggingQueriesOnRuns(db: CosmosDatabase): CosmosDatabase {
  const runs = db.client.database(db.database.id).container('runs');
  const items = runs.items;
  const real = items.query.bind(items);
  const answered = new Map<string, Promise<FeedResponse<unknown>>>();
  items.query = ((...args: Parameters<typeof items.query>) => {
    const iterator = real(...args);
    const key = JSON.stringify(args[0]);
    iterator.fetchAll = (() => {
      if (!answered.has(key)) answered.set(key, real(...args).fetchAll());
      return answered.get(key)!;
    }) as typeof iterator.fetchAll;
    return iterator;
  }) as typeof items.query;
  return { ...db, container: (name) => (name === 'runs' ? runs : db.container(name)) };
}

/**
 * What the Cosmos implementations promise beyond the port suites: the request pattern of the
 * pipeline's hot path (counted from the SDK's responses) and concurrency under _etag conditions.
 */
describe('Cosmos stores: request pattern and concurrency', () => {
  const cosmos = useCosmosDatabase();

  it('reads the change-detection state of a 1,000-record page in one request, without payloads, and writes it in 10 batches', async () => {
    const records = new CosmosRecordStore(cosmos.db);
    const scope = { tenantId: uniqueId('ten'), connectionId: uniqueId('con'), entity: 'customers' };
    const page = Array.from({ length: 1000 }, (_, i) => makeRecord(scope, `c${i}`));
    cosmos.db.charges.reset();
    await records.write(page);
    expect(cosmos.db.charges.snapshot()['records.write']).toMatchObject({ requests: 10 });
    // and one query for the partition's newest lastModifiedAt, so the page sorts after writes that committed meanwhile
    expect(cosmos.db.charges.snapshot()['records.stamp']).toMatchObject({ requests: 1 });
    cosmos.db.charges.reset();
    const states = await records.getStates(scope, page.map((r) => r.externalId));
    expect(states.size).toBe(1000);
    expect(cosmos.db.charges.snapshot()).toEqual({ 'records.getStates': { requests: 1, ru: expect.any(Number) } });
    // State only: the projection never carries the payload.
    for (const state of states.values()) expect(state).not.toHaveProperty('data');
  });

  it('lets exactly one of two writers with the same run version win', async () => {
    const runs = new CosmosRunStore(cosmos.db);
    const created = await runs.create(makeRun(uniqueId('ten'), uniqueId('con')));
    const outcomes = await Promise.allSettled([runs.update({ ...created, state: 'running' }), runs.update({ ...created, state: 'cancelled' })]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(isSyncBridgeError(lost.reason, 'conflict')).toBe(true);
    expect((await runs.get(created.id))?.version).toBe(2);
  });

  it('starts at most the tenant limit when many queued runs race to start', async () => {
    const runs = new CosmosRunStore(cosmos.db);
    const tenant = uniqueId('ten');
    const queued = await Promise.all(Array.from({ length: 8 }, () => runs.create(makeRun(tenant, uniqueId('con')))));
    const started = await Promise.all(queued.map((run) => runs.tryStart(run.id, 3, new Date().toISOString())));
    expect(started.filter(Boolean)).toHaveLength(3);
    expect(await runs.countActive(tenant)).toBe(3);
    expect((await runs.listQueued(tenant)).map((r) => r.id).sort()).toEqual(queued.filter((_, i) => !started[i]).map((r) => r.id).sort());
  });

  it('counts a tenant\'s conflicts per connection and kind from aggregates: the rows returned do not grow with the conflicts', async () => {
    const conflicts = new CosmosConflictStore(cosmos.db);
    const tenant = uniqueId('ten');
    const kinds: ConflictKind[] = ['data_mismatch', 'validation_error', 'retry_exhausted'];
    const expected = new Map<string, ConflictStats>();
    for (let i = 0; i < 60; i += 1) {
      const connectionId = ['con-a', 'con-b', 'con-c'][i % 3];
      const kind = kinds[(i * 7) % kinds.length];
      const opened = await conflicts.open(makeConflict(tenant, { connectionId, kind, externalId: `cus_${i}` }));
      const entry = expected.get(`${connectionId}/${kind}`) ?? { connectionId, kind, open: 0, resolved: 0 };
      if (i % 4 === 0) {
        await conflicts.resolve(tenant, opened.id, 'local', opened.createdAt);
        entry.resolved += 1;
      } else entry.open += 1;
      expected.set(`${connectionId}/${kind}`, entry);
    }
    await conflicts.open(makeConflict(uniqueId('other-ten'), { connectionId: 'con-a' }));
    const returned = countReturnedRows(cosmos.db.container('conflicts'));
    const stats = await conflicts.stats(tenant);
    expect(stats).toEqual([...expected.values()].sort((a, b) => a.connectionId.localeCompare(b.connectionId) || a.kind.localeCompare(b.kind)));
    // Three connections: one id and one row of sums each. Reading the conflicts would return 60.
    expect(returned.rows).toBeLessThanOrEqual(6);
  });

  it('starts exactly one of two runs started at once when the tenant has one slot left', async () => {
    const runs = new CosmosRunStore(cosmos.db);
    const tenant = uniqueId('ten');
    await runs.create(makeRun(tenant, uniqueId('con'), { state: 'running' }));
    const [first, second] = await Promise.all([runs.create(makeRun(tenant, uniqueId('con'))), runs.create(makeRun(tenant, uniqueId('con')))]);
    const started = await Promise.all([runs.tryStart(first.id, 2, new Date().toISOString()), runs.tryStart(second.id, 2, new Date().toISOString())]);
    expect(started.filter(Boolean)).toHaveLength(1);
    expect(await runs.countActive(tenant)).toBe(2);
    expect(await runs.listQueued(tenant)).toHaveLength(1);
  });

  it('keeps the tenant limit when the other instance\'s queries come from a replica that has not seen a start (Session consistency)', async () => {
    const tenant = uniqueId('ten');
    const instanceA = new CosmosRunStore(cosmos.db);
    const instanceB = new CosmosRunStore(laggingQueriesOnRuns(cosmos.db));
    const first = await instanceA.create(makeRun(tenant, uniqueId('con')));
    const second = await instanceA.create(makeRun(tenant, uniqueId('con')));
    // B counted the tenant's active runs before A's start (a promotion does), from a replica that
    // then falls behind.
    expect(await instanceB.countActive(tenant)).toBe(0);
    expect(await instanceA.tryStart(first.id, 1, new Date().toISOString())).toMatchObject({ state: 'running' });
    expect(await instanceB.tryStart(second.id, 1, new Date().toISOString())).toBeUndefined();
    expect(await instanceA.countActive(tenant)).toBe(1);
    expect((await instanceA.get(second.id))?.state).toBe('queued');
  });

  it('gives a run\'s slot back when it ends, and drops the slot of a run that ended without giving it back', async () => {
    const runs = new CosmosRunStore(cosmos.db);
    const tenant = uniqueId('ten');
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => runs.create(makeRun(tenant, uniqueId('con')))));
    const startedA = (await runs.tryStart(a.id, 1, new Date().toISOString()))!;
    expect(await runs.tryStart(b.id, 1, new Date().toISOString())).toBeUndefined();
    await runs.update({ ...startedA, state: 'done' });
    const startedB = (await runs.tryStart(b.id, 1, new Date().toISOString()))!;
    expect(startedB).toMatchObject({ state: 'running' });
    // B ends, but its instance dies before the release: the run document says done, the slots still list it.
    const container = cosmos.db.container('runs');
    const { resource } = await container.item(b.id, [tenant, b.connectionId]).read();
    await container.item(b.id, [tenant, b.connectionId]).replace({ ...resource, state: 'failed', version: startedB.version + 1 });
    expect(await runs.tryStart(c.id, 1, new Date().toISOString())).toMatchObject({ state: 'running' });
  });

  it('drops the reservation of a queued run its connection\'s pause holds: another run of the tenant starts in that slot', async () => {
    const runs = new CosmosRunStore(cosmos.db);
    const tenant = uniqueId('ten');
    const [a, b] = await Promise.all([1, 2].map(() => runs.create(makeRun(tenant, uniqueId('con')))));
    const startedA = (await runs.tryStart(a.id, 1, new Date().toISOString()))!;
    // What a start that lost to the hold leaves: its reservation in the slots, the run queued and
    // held (written straight to the container, so no release runs).
    const container = cosmos.db.container('runs');
    const { resource } = await container.item(a.id, [tenant, a.connectionId]).read();
    await container.item(a.id, [tenant, a.connectionId]).replace({ ...resource, state: 'queued', startedAt: null, pausedBy: 'connection', version: startedA.version + 1 });
    expect(await runs.tryStart(b.id, 1, new Date().toISOString())).toMatchObject({ state: 'running' });
    expect(await runs.tryStart(a.id, 1, new Date().toISOString())).toBeUndefined();
  });

  it('gives a lease to one of many instances racing for it', async () => {
    const leases = new CosmosLeaseStore(cosmos.db);
    const name = uniqueId('lease');
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => leases.acquire(name, `instance-${i}`, 30_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});
