import type { ProviderRecord } from '../../shared/adapters/adapter';
import { sandboxProvider } from '../../shared/adapters/providers/sandbox';
import type { Services } from '../../shared/composition';
import { contentHash } from '../../shared/core/hash';
import type { JsonObject, SyncRecord } from '../../shared/core/model';
import { LocalChangeService } from '../../shared/core/outbound/localChanges';
import { OutboundService } from '../../shared/core/outbound/outboundService';
import { WebhookApplier } from '../../shared/core/webhookIntake/applier';
import { applyPage } from '../../shared/pipeline/applyPage';
import type { Platform } from '../../shared/ports/platform';
import type { RecordStore } from '../../shared/ports/recordStore';
import type { RunningSandbox } from '../../sandbox/server';
import { ApiClient } from '../support/apiClient';
import { expectSyncBridgeError } from '../conformance/fixtures';
import { deliverPush, storePulled } from './helpers';
import { startRacePlatform, type RaceHooks, type RacePlatform } from './racingPlatform';

/**
 * The pull pipeline (applyPage: pull pages and webhook deliveries) reads a page's records, decides,
 * then writes; on Cosmos DB those are separate round trips, and on either store a local change can
 * commit in between (an await lies between them). Here the record store is wrapped so that a PATCH
 * commits exactly there. It must survive: its value kept, the pulled change merged into it, its
 * own push still going out, and no conflict opened for it.
 */
describe.each(['SQLite', 'Cosmos DB'] as const)('a pull or webhook writing while a local change commits (%s)', (store) => {
  let race: RacePlatform;
  let sandbox: RunningSandbox;
  let platform: Platform;
  /** The record store without the hooks. */
  let records: RecordStore;
  let services: Services;
  let hooks: RaceHooks;
  let connections = 0;

  beforeAll(async () => {
    race = await startRacePlatform(store, [sandboxProvider]);
    ({ sandbox, platform, records, services, hooks } = race);
  });
  afterAll(async () => {
    await race.close();
  });
  afterEach(() => race.clearHooks());

  /** The sandbox's control API (tests/support/apiClient.ts). */
  const sandboxRequest = (method: string, path: string, body?: unknown): Promise<any> => new ApiClient('', sandbox.url, '').sandbox(method, path, body);
  const cus = (n: number) => `cus_${String(n).padStart(7, '0')}`;

  async function setup() {
    const connectionId = `pull${(connections += 1)}`;
    const scope = await race.twoWayConnection(connectionId);
    const changes = new LocalChangeService(platform);
    const outbound = new OutboundService(platform, services.adapters, { retry: { initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 3 }, random: () => 0.5 });
    const remote = (id: string) => sandboxRequest('GET', `records/customers/${id}`);
    const changeRemote = (id: string, fields: JsonObject) => sandboxRequest('PATCH', `records/customers/${id}`, fields);
    const pulled = async (id: string) => storePulled(platform.records, scope, id, await remote(id));
    const asPulled = (data: JsonObject): ProviderRecord => ({ externalId: String(data.id), updatedAt: String(data.updated_at), deleted: false, data });
    let steps = 0;
    /** One step of an incremental pull over `page`, through `through` (default: the hooked store). */
    const pull = (page: ProviderRecord[], through: RecordStore = platform.records) =>
      applyPage({ records: through, scope, runId: `run_${connectionId}`, stepId: `run_${connectionId}:customers:${(steps += 1)}`, mode: 'incremental', page, now: new Date().toISOString() });
    const push = (record: SyncRecord) => deliverPush(platform.outbox, outbound, record);
    const stored = (id: string) => records.get(scope, id);
    const openConflicts = async () => (await platform.conflicts.list({ tenantId: 't1', connectionId, state: 'open', limit: 10 })).conflicts;
    return { connectionId, scope, changes, remote, changeRemote, pulled, asPulled, pull, push, stored, openConflicts };
  }

  /** The pipeline's calls to the record store, counted (a PATCH racing it goes around this). */
  function counting(inner: RecordStore) {
    const calls = { getStates: [] as number[], write: [] as number[], getWithRevision: 0, get: 0 };
    const store: RecordStore = {
      ...inner,
      getStates: (scope, ids) => (calls.getStates.push(ids.length), inner.getStates(scope, ids)),
      write: (batch) => (calls.write.push(batch.length), inner.write(batch)),
      getWithRevision: (scope, id) => ((calls.getWithRevision += 1), inner.getWithRevision(scope, id)),
      get: (scope, id) => ((calls.get += 1), inner.get(scope, id)),
      list: (query) => inner.list(query),
      count: (scope, options) => inner.count(scope, options),
      markSeen: (runId, scope, ids) => inner.markSeen(runId, scope, ids),
      sweepUnseen: (runId, scope, stepId, at, writtenBefore) => inner.sweepUnseen(runId, scope, stepId, at, writtenBefore),
      clearSeen: (runId) => inner.clearSeen(runId),
    };
    return { store, calls };
  }

  /** A delivery of the record's update event, logged as received; its id. */
  async function received(connectionId: string, record: JsonObject): Promise<string> {
    const deliveryId = `dlv_${connectionId}`;
    const now = new Date().toISOString();
    await platform.deliveries.insert({
      id: deliveryId, tenantId: 't1', connectionId, provider: 'sandbox', webhookId: `wh_${connectionId}`, receivedAt: now, status: 'received',
      eventType: 'customers.updated', headers: {}, body: JSON.stringify({ type: 'customers.updated', data: { record } }), replays: 0, updatedAt: now,
    });
    return deliveryId;
  }

  test('a PATCH committed between a page\'s read and its write survives, takes the pulled change in, and its push goes out', async () => {
    const s = await setup();
    const ids = [cus(1), cus(2), cus(3)];
    for (const id of ids) await s.pulled(id);
    for (const id of ids) await s.changeRemote(id, { phone: `+1 555 100 ${id.slice(-4)}` });
    const page = await Promise.all(ids.map(async (id) => s.asPulled(await s.remote(id))));
    let edited: SyncRecord | undefined;
    hooks.afterStates.push(async () => {
      edited = (await s.changes.update(s.scope, cus(2), { name: 'Edited Mid-Pull' })).record;
    });
    const result = await s.pull(page);
    expect(result.counters).toMatchObject({ fetched: 3, updated: 3 });
    const after = await s.stored(cus(2));
    expect(after?.data).toEqual({ ...page[1].data, name: 'Edited Mid-Pull' });
    expect(after?.pendingPush?.outboxId).toBe(edited!.pendingPush!.outboxId);
    expect(after?.base).toEqual(page[1].data); // based on the copy the pull brought: the push sends the name alone
    expect((await s.stored(cus(1)))?.data).toEqual(page[0].data);
    expect((await s.stored(cus(3)))?.data).toEqual(page[2].data);
    expect(await s.push(edited!)).toBe('pushed'); // not superseded: its entry is still the record's
    expect(await s.remote(cus(2))).toMatchObject({ name: 'Edited Mid-Pull', phone: '+1 555 100 0002' });
    expect((await s.stored(cus(2)))?.pendingPush).toBeUndefined();
    expect(await s.openConflicts()).toEqual([]);
  });

  test('a PATCH committed between a merge\'s read and its write is merged in, not overwritten', async () => {
    const s = await setup();
    const id = cus(4);
    await s.pulled(id);
    const first = (await s.changes.update(s.scope, id, { name: 'First Edit' })).record;
    await s.changeRemote(id, { phone: '+1 555 100 0004' });
    const page = [s.asPulled(await s.remote(id))];
    let second: SyncRecord | undefined;
    // The record holds a pending push, so the pipeline reads it whole to merge: the PATCH lands after that read.
    hooks.afterRead.push(async () => {
      second = (await s.changes.update(s.scope, id, { notes: 'Second Edit' })).record;
    });
    await s.pull(page);
    const after = await s.stored(id);
    expect(after?.data).toMatchObject({ name: 'First Edit', notes: 'Second Edit', phone: '+1 555 100 0004' });
    expect(after?.pendingPush?.outboxId).toBe(second!.pendingPush!.outboxId);
    expect(await s.push(first)).toBe('superseded'); // the later entry carries both edits
    expect(await s.push(second!)).toBe('pushed');
    expect(await s.remote(id)).toMatchObject({ name: 'First Edit', notes: 'Second Edit', phone: '+1 555 100 0004' });
    expect(await s.openConflicts()).toEqual([]);
  });

  test('a webhook delivery applied while a PATCH commits keeps the PATCH and merges the event into it', async () => {
    const s = await setup();
    const id = cus(5);
    await s.pulled(id);
    const event = await s.changeRemote(id, { phone: '+1 555 100 0005' });
    const deliveryId = await received(s.connectionId, event);
    let edited: SyncRecord | undefined;
    hooks.afterStates.push(async () => {
      edited = (await s.changes.update(s.scope, id, { name: 'Edited Mid-Webhook' })).record;
    });
    expect(await new WebhookApplier(platform, services.adapters).apply({ kind: 'webhook', connectionId: s.connectionId, deliveryId })).toBe('applied');
    const after = await s.stored(id);
    expect(after?.data).toMatchObject({ name: 'Edited Mid-Webhook', phone: '+1 555 100 0005' });
    expect(after?.pendingPush?.outboxId).toBe(edited!.pendingPush!.outboxId);
    expect(await s.push(edited!)).toBe('pushed');
    expect(await s.remote(id)).toMatchObject({ name: 'Edited Mid-Webhook', phone: '+1 555 100 0005' });
    expect(await s.openConflicts()).toEqual([]);
  });

  test('a webhook delivery reads its record once (the state it is judged and planned on) and writes it once', async () => {
    const s = await setup();
    const id = cus(7);
    await s.pulled(id);
    const event = await s.changeRemote(id, { phone: '+1 555 100 0007' });
    const deliveryId = await received(s.connectionId, event);
    const counted = counting(platform.records);
    const countedPlatform: Platform = Object.assign(Object.create(platform) as Platform, { records: counted.store });
    expect(await new WebhookApplier(countedPlatform, services.adapters).apply({ kind: 'webhook', connectionId: s.connectionId, deliveryId })).toBe('applied');
    expect(counted.calls).toEqual({ getStates: [1], write: [1], getWithRevision: 0, get: 0 });
    expect((await s.stored(id))?.data).toMatchObject({ phone: '+1 555 100 0007' });
  });

  test('a page of 250 costs one read and one write per 100 records; a race redoes only the call that lost', async () => {
    const s = await setup();
    const page = (round: number): ProviderRecord[] => Array.from({ length: 250 }, (_, i) => {
      const data = { id: `big_${i}`, name: `Customer ${i}`, round, updated_at: `2026-01-0${round}T00:00:00Z` };
      return s.asPulled(data);
    });
    const first = counting(platform.records);
    expect((await s.pull(page(1), first.store)).counters.created).toBe(250);
    expect(first.calls).toEqual({ getStates: [250], write: [100, 100, 50], getWithRevision: 0, get: 0 });

    const second = counting(platform.records);
    let edited: SyncRecord | undefined;
    hooks.afterStates.push(async () => {
      edited = (await s.changes.update(s.scope, 'big_170', { name: 'Edited Mid-Page' })).record;
    });
    const result = await s.pull(page(2), second.store);
    expect(result.counters).toMatchObject({ fetched: 250, updated: 250 });
    // The second read asks for the 100 records of the call that lost, and only big_170 is read whole to merge.
    expect(second.calls.getStates).toEqual([250, 100]);
    expect(second.calls.getWithRevision).toBe(1);
    expect(second.calls.write.slice(0, 3)).toEqual([100, 100, 50]);
    expect(await s.stored('big_170')).toMatchObject({ data: { name: 'Edited Mid-Page', round: 2 }, pendingPush: { outboxId: edited!.pendingPush!.outboxId } });
    expect((await s.stored('big_169'))?.data).toMatchObject({ name: 'Customer 169', round: 2 });
    expect((await s.stored('big_249'))?.data).toMatchObject({ round: 2 });
  });

  test('a page whose record changes after every read fails as transient (retried, not dropped) and writes over nothing', async () => {
    const s = await setup();
    const id = cus(6);
    await s.pulled(id);
    await s.changeRemote(id, { phone: '+1 555 100 0006' });
    const page = [s.asPulled(await s.remote(id))];
    // Another writer after each of the pipeline's reads: a local change, then rewrites of it as it is.
    let edited: SyncRecord | undefined;
    const rewrite = async () => {
      await records.write([(await records.get(s.scope, id))!]);
    };
    hooks.afterStates.push(async () => {
      edited = (await s.changes.update(s.scope, id, { name: 'Contended' })).record;
      // From now on, after each read of the merge (the PATCH's own read is done).
      hooks.afterRead.push(...Array.from({ length: 5 }, () => rewrite));
    });
    await expectSyncBridgeError(s.pull(page), 'transient');
    expect(await s.stored(id)).toMatchObject({ data: { name: 'Contended' }, pendingPush: { outboxId: edited!.pendingPush!.outboxId } });
    // The step runs again (the broker redelivers it) and merges.
    await s.pull(page);
    expect((await s.stored(id))?.data).toMatchObject({ name: 'Contended', phone: '+1 555 100 0006' });
    expect((await s.stored(id))?.hash).toBe(contentHash((await s.stored(id))!.data));
  });
});
