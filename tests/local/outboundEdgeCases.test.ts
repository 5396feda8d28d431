import type { ProviderRecord } from '../../shared/adapters/adapter';
import { sandboxProvider } from '../../shared/adapters/providers/sandbox';
import type { Services } from '../../shared/composition';
import { SyncBridgeError } from '../../shared/core/errors';
import type { SyncRecord } from '../../shared/core/model';
import { ConflictResolver } from '../../shared/core/outbound/conflictResolution';
import { LocalChangeService } from '../../shared/core/outbound/localChanges';
import { OutboundService } from '../../shared/core/outbound/outboundService';
import { applyPage } from '../../shared/pipeline/applyPage';
import type { Platform } from '../../shared/ports/platform';
import type { RecordStore } from '../../shared/ports/recordStore';
import type { RunningSandbox } from '../../sandbox/server';
import { ApiClient } from '../support/apiClient';
import { deliverPush, storePulled } from './helpers';
import { leveredAdapter, startRacePlatform, type RacePlatform } from './racingPlatform';


/**
 * Edge cases of pushes found in review (2026-11-23), each driven deterministically against the real
 * sandbox on both stores: a pending delete meeting a pull, providers that answer 410 Gone, a local
 * delete of a create's new id, stale resolutions, a retry whose scheduled send fails, and a create
 * whose answer was lost before the record was edited or deleted.
 */
describe.each(['SQLite', 'Cosmos DB'] as const)('outbound edge cases (%s)', (store) => {
  let race: RacePlatform;
  let sandbox: RunningSandbox;
  let platform: Platform;
  let records: RecordStore;
  let services: Services;
  let connections = 0;
  const { adapter, levers, reset: resetLevers } = leveredAdapter(sandboxProvider);

  beforeAll(async () => {
    race = await startRacePlatform(store, [adapter]);
    ({ sandbox, platform, records, services } = race);
  });
  afterAll(async () => race.close());
  afterEach(() => {
    race.clearHooks();
    resetLevers();
  });

  const sandboxRequest = (method: string, path: string, body?: unknown): Promise<any> => new ApiClient('', sandbox.url, '').sandbox(method, path, body);
  const cus = (n: number) => `cus_${String(n).padStart(7, '0')}`;
  const tag = store === 'SQLite' ? 'sqlite' : 'cosmos';

  async function setup() {
    const connectionId = `rev${(connections += 1)}`;
    const scope = await race.twoWayConnection(connectionId, { default: { kind: 'manual' } });
    const changes = new LocalChangeService(platform);
    const outbound = new OutboundService(platform, services.adapters, { retry: { initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 5 }, random: () => 0.5 });
    const resolver = new ConflictResolver(platform, changes);
    const remote = (id: string) => sandboxRequest('GET', `records/customers/${id}`);
    const pulled = async (id: string): Promise<SyncRecord> => storePulled(records, scope, id, await remote(id));
    const push = (record: SyncRecord) => deliverPush(platform.outbox, outbound, record);
    const stored = (id: string) => records.get(scope, id);
    const live = async () => (await records.list({ tenantId: 't1', connectionId, entity: 'customers', limit: 50, includeDeleted: false })).records;
    let steps = 0;
    const pull = async (id: string) => {
      const data = await remote(id);
      const page: ProviderRecord[] = [{ externalId: id, updatedAt: data.updated_at, deleted: false, data }];
      await applyPage({ records, scope, runId: `run_${connectionId}`, stepId: `run_${connectionId}:customers:${(steps += 1)}`, mode: 'incremental', page, now: new Date().toISOString() });
    };
    const openConflicts = async () => (await platform.conflicts.list({ tenantId: 't1', connectionId, state: 'open', limit: 10 })).conflicts;
    const providerByEmail = async (email: string): Promise<any[]> => {
      const response = await fetch(`${sandbox.url}/v1/customers?limit=1000`, { headers: { 'x-api-key': sandbox.apiKey } });
      const body = (await response.json()) as { data: any[] };
      return body.data.filter((r) => r.email === email && !r.deleted);
    };
    return { connectionId, scope, changes, outbound, resolver, remote, pulled, push, stored, live, pull, openConflicts, providerByEmail };
  }


  test('a pending local DELETE meeting a pull of a provider edit stays pending, and its push parks a data_mismatch instead of vanishing', async () => {
    const s = await setup();
    const id = cus(11);
    await s.pulled(id);
    const deleted = await s.changes.remove(s.scope, id);
    await sandboxRequest('PATCH', `records/customers/${id}`, { notes: 'edited at the provider' });
    await s.pull(id);
    expect(await s.stored(id)).toMatchObject({ deleted: true, pendingPush: { op: 'delete', outboxId: deleted.pendingPush!.outboxId } });
    expect(await s.push(deleted)).toBe('parked');
    expect(await s.openConflicts()).toMatchObject([{ kind: 'data_mismatch', remote: expect.objectContaining({ notes: 'edited at the provider' }) }]);
    expect(await s.remote(id)).toMatchObject({ notes: 'edited at the provider' }); // nothing deleted without a decision
  });

  test('a provider that answers 410 Gone: a delete of a record gone there is done, and a kept edit is re-created', async () => {
    const s = await setup();
    levers.gone410 = true;
    const gone = cus(13);
    await s.pulled(gone);
    const deleted = await s.changes.remove(s.scope, gone);
    await sandboxRequest('DELETE', `records/customers/${gone}`);
    expect(await s.push(deleted)).toBe('pushed');
    expect(await s.openConflicts()).toHaveLength(0);

    const id = cus(12);
    const before = await s.pulled(id);
    const edited = (await s.changes.update(s.scope, id, { notes: 'kept here' })).record;
    await sandboxRequest('DELETE', `records/customers/${id}`);
    expect(await s.push(edited)).toBe('parked');
    const [conflict] = await s.openConflicts();
    expect(conflict).toMatchObject({ kind: 'data_mismatch', remote: null });
    const { record: recreated } = await s.resolver.resolve('t1', conflict.id, { resolution: 'local' });
    expect(await s.push(recreated!)).toBe('pushed');
    expect(await s.openConflicts()).toHaveLength(0);
    expect(await s.providerByEmail(String(before.data.email))).toMatchObject([{ notes: 'kept here' }]);
  });

  test('a local DELETE of a pushed create\'s new id is kept when an edit of the temporary record was in flight', async () => {
    const s = await setup();
    const email = `move.over.delete.${tag}@example.com`;
    const created = await s.changes.create(s.scope, { name: 'Move Over Delete', email, currency: 'EUR' });
    let newId = '';
    let localDelete: SyncRecord | undefined;
    levers.afterPush = async (answer) => {
      // The provider accepted the create; before the worker records it, a pull stores the new id,
      // the user DELETEs it there (records API), and edits the temporary record (still live).
      newId = answer!.externalId;
      await s.pull(newId);
      localDelete = await s.changes.remove(s.scope, newId);
      await s.changes.update(s.scope, created.externalId, { notes: 'edited in flight' });
    };
    expect(await s.push(created)).toBe('pushed');
    expect(await s.stored(newId)).toMatchObject({ deleted: true, pendingPush: { op: 'delete', outboxId: localDelete!.pendingPush!.outboxId } });
    expect(await s.stored(created.externalId)).toMatchObject({ deleted: true });
    expect(await s.push(localDelete!)).toBe('pushed');
    expect(await s.providerByEmail(email)).toHaveLength(0);
  });

  test('a re-create that finds the record after all and updates it, then meets a 404, creates it after all', async () => {
    const s = await setup();
    const id = cus(14);
    const before = await s.pulled(id);
    const edited = (await s.changes.update(s.scope, id, { notes: 'kept here' })).record;
    levers.hidden.add(id); // the provider's read says 404 once ("not its last word")
    expect(await s.push(edited)).toBe('parked');
    const [first] = await s.openConflicts();
    expect(first).toMatchObject({ kind: 'data_mismatch', remote: null });
    levers.hidden.clear();
    const { record: recreated } = await s.resolver.resolve('t1', first.id, { resolution: 'local' });
    // The re-create reads the record (there after all) and PATCHes it; the provider deletes it in between.
    levers.beforePush = async () => {
      await sandboxRequest('DELETE', `records/customers/${id}`);
    };
    expect(await s.push(recreated!)).toBe('pushed');
    expect(await s.openConflicts()).toHaveLength(0);
    expect(await s.providerByEmail(String(before.data.email))).toMatchObject([{ notes: 'kept here' }]);
  });

  test('resolving a provider-deleted conflict as "local" after the record was deleted here is refused: nothing comes back', async () => {
    const s = await setup();
    const id = cus(15);
    const before = await s.pulled(id);
    const edited = (await s.changes.update(s.scope, id, { notes: 'edited here' })).record;
    await sandboxRequest('DELETE', `records/customers/${id}`);
    expect(await s.push(edited)).toBe('parked');
    const [conflict] = await s.openConflicts();
    const deleted = await s.changes.remove(s.scope, id);
    expect(await s.push(deleted)).toBe('pushed');
    await expect(s.resolver.resolve('t1', conflict.id, { resolution: 'local' })).rejects.toMatchObject({ code: 'conflict' });
    await expect(s.resolver.resolve('t1', conflict.id, { resolution: 'custom', data: { notes: 'x' } })).rejects.toMatchObject({ code: 'conflict' });
    expect(await s.stored(id)).toMatchObject({ deleted: true });
    expect(await s.providerByEmail(String(before.data.email))).toHaveLength(0);
    const { record } = await s.resolver.resolve('t1', conflict.id, { resolution: 'remote' });
    expect(record).toMatchObject({ deleted: true });
  });

  test('a resolution landing between a never-pushed delete\'s read and its write keeps the delete it made, and that delete\'s own push', async () => {
    const s = await setup();
    const email = `refused.then.deleted.${tag}@example.com`;
    await sandboxRequest('POST', 'faults', { rejectWrites: { status: 422 } });
    const created = await s.changes.create(s.scope, { name: 'Refused Then Deleted', email, currency: 'EUR' });
    expect(await s.push(created)).toBe('parked'); // the provider refused the create: it never had the record
    const [conflict] = await s.openConflicts();
    expect(conflict).toMatchObject({ kind: 'validation_error', externalId: created.externalId });
    const deleted = await s.changes.remove(s.scope, created.externalId);
    // The delete's worker has read the record (created and deleted here, never pushed); before it
    // clears the pending push, a person resolves the create's conflict as "local" (delete there
    // too), which commits a delete of its own, a version later.
    let redeleted: SyncRecord | null = null;
    race.hooks.afterRead.push(async () => {
      ({ record: redeleted } = await s.resolver.resolve('t1', conflict.id, { resolution: 'local' }));
    });
    expect(await s.push(deleted)).toBe('superseded');
    expect(redeleted).toMatchObject({ deleted: true, version: deleted.version + 1 });
    expect(await s.stored(created.externalId)).toMatchObject({ deleted: true, version: redeleted!.version, pendingPush: { outboxId: redeleted!.pendingPush!.outboxId } });
    expect(await s.push(redeleted!)).toBe('pushed');
    const closed = await s.stored(created.externalId);
    expect(closed).toMatchObject({ deleted: true, version: redeleted!.version });
    expect(closed!.pendingPush ?? null).toBeNull();
    expect(await platform.outbox.get(redeleted!.pendingPush!.outboxId)).toMatchObject({ state: 'done', lastError: null });
    expect(await s.openConflicts()).toHaveLength(0);
    expect(await s.providerByEmail(email)).toHaveLength(0);
  });

  test('two deliveries of a never-pushed delete racing: the one that lost the write finds the delete closed, and closes done', async () => {
    const s = await setup();
    const created = await s.changes.create(s.scope, { name: 'Deleted Twice Over', email: `deleted.twice.${tag}@example.com`, currency: 'EUR' });
    const deleted = await s.changes.remove(s.scope, created.externalId);
    expect(await s.push(created)).toBe('superseded'); // its message comes first, and never sent it
    // The second delivery has read the record; the first runs to the end before it writes.
    race.hooks.afterRead.push(async () => {
      expect(await s.push(deleted)).toBe('pushed');
    });
    expect(await s.push(deleted)).toBe('pushed');
    const closed = await s.stored(created.externalId);
    expect(closed).toMatchObject({ deleted: true, version: deleted.version });
    expect(closed!.pendingPush ?? null).toBeNull();
    expect(await platform.outbox.get(deleted.pendingPush!.outboxId)).toMatchObject({ state: 'done', lastError: null });
  });

  test('a retry whose scheduled send fails is run again by the redelivered message, not left to the relay', async () => {
    const s = await setup();
    const id = cus(16);
    await s.pulled(id);
    const edited = (await s.changes.update(s.scope, id, { notes: 'retry me' })).record;
    const outboxId = edited.pendingPush!.outboxId;
    levers.beforePush = async () => {
      throw new SyncBridgeError('transient', 'HTTP 503', { status: 503 });
    };
    expect(await s.push(edited)).toBe('retry_scheduled');
    const t1 = (await platform.outbox.get(outboxId))!.nextAttemptAt!;
    // Attempt 2 (the T1 message) fails too, and then sending its retry's message fails.
    let failSend = true;
    const flaky: Platform = { ...platform, queue: { ...platform.queue, send: async (queue: any, messages: any) => {
      if (failSend) {
        failSend = false;
        throw new SyncBridgeError('transient', 'Service Bus unavailable');
      }
      return platform.queue.send(queue, messages);
    } } as Platform['queue'] };
    const outbound = new OutboundService(flaky, services.adapters, { retry: { initialDelayMs: 60_000, maxDelayMs: 60_000, maxAttempts: 5 }, random: () => 0.5 });
    levers.beforePush = async () => {
      throw new SyncBridgeError('transient', 'HTTP 503', { status: 503 });
    };
    await expect(outbound.handle({ outboxId, dueAt: t1 })).rejects.toThrow(/Service Bus unavailable/);
    expect((await platform.outbox.get(outboxId))!.nextAttemptAt).toBe(t1); // not noted as scheduled: nothing was
    // The worker threw, so the broker redelivers the T1 message: it runs the attempt again (the
    // provider is back) instead of being skipped as older than a retry that was never queued.
    expect(await outbound.handle({ outboxId, dueAt: t1 })).toBe('pushed');
    expect(await s.remote(id)).toMatchObject({ notes: 'retry me' });
  });
  test('a retry whose due time could not be noted after its message went out: the attempt run again queues a message for the time it notes', async () => {
    const s = await setup();
    const id = cus(17);
    await s.pulled(id);
    const edited = (await s.changes.update(s.scope, id, { notes: 'retry me later' })).record;
    const outboxId = edited.pendingPush!.outboxId;
    const sent: { messageId: string; dueAt?: string }[] = [];
    let failNote = true;
    const flaky: Platform = {
      ...platform,
      queue: { ...platform.queue, send: async (queue: any, messages: any) => {
        for (const m of [messages].flat()) sent.push({ messageId: m.messageId, dueAt: m.body.dueAt });
        return platform.queue.send(queue, messages);
      } } as Platform['queue'],
      outbox: new Proxy(platform.outbox, {
        get: (target, key) => {
          if (key !== 'update') return Reflect.get(target, key).bind(target);
          return async (...args: Parameters<Platform['outbox']['update']>) => {
            if (failNote && args[1].nextAttemptAt) {
              failNote = false;
              throw new SyncBridgeError('transient', 'store busy');
            }
            return target.update(...args);
          };
        },
      }),
    };
    const delays = [0, 1];
    const outbound = new OutboundService(flaky, services.adapters, { retry: { initialDelayMs: 60_000, maxDelayMs: 60_000, maxAttempts: 5 }, random: () => delays.shift()! });
    const refuse = async () => {
      throw new SyncBridgeError('transient', 'HTTP 503', { status: 503 });
    };
    levers.beforePush = refuse;
    await expect(outbound.handle({ outboxId })).rejects.toThrow(/store busy/); // the retry's message went out; its note did not
    levers.beforePush = refuse;
    expect(await outbound.handle({ outboxId })).toBe('retry_scheduled'); // the broker's redelivery of the original
    const noted = (await platform.outbox.get(outboxId))!.nextAttemptAt!;
    expect(sent).toHaveLength(2);
    expect(sent[0].dueAt).not.toBe(noted);
    // The due time noted is carried by a message under an id not sent before (the broker keeps it).
    expect(sent[1].dueAt).toBe(noted);
    expect(sent[1].messageId).not.toBe(sent[0].messageId);
    expect(await outbound.handle({ outboxId, dueAt: sent[0].dueAt })).toBe('skipped'); // the first: stale
  });

  /**
   * A local create whose answer was lost (the provider committed it; a retry is scheduled), then a
   * change of the temporary record. The change's entry sends the first create again with its key,
   * which the provider answers with the record it made then; the change follows as an update or a
   * delete of that record (a new entry, queued). Pushes every entry the record went through.
   */
  async function lostCreateThen(s: Awaited<ReturnType<typeof setup>>, data: Record<string, string>, change: (created: SyncRecord) => Promise<SyncRecord>) {
    const created = await s.changes.create(s.scope, data);
    levers.loseNextPushResponse = true;
    expect(await s.push(created)).toBe('retry_scheduled');
    const changed = await change(created);
    expect(changed.pendingPush!.outboxId).not.toBe(created.pendingPush!.outboxId);
    expect(await s.push(changed)).toBe('pushed');
    expect(await platform.outbox.get(changed.pendingPush!.outboxId)).toMatchObject({ state: 'done' });
    expect(await s.push(created)).toBe('superseded'); // its retry: the record moved on
    expect(await s.stored(created.externalId)).toMatchObject({ deleted: true });
    expect((await s.stored(created.externalId))!.pendingPush ?? null).toBeNull();
    // The carried-over change waits on the provider's id, under an entry of its own.
    const all = (await records.list({ tenantId: 't1', connectionId: s.connectionId, entity: 'customers', limit: 50, includeDeleted: true })).records;
    const carried = all.find((r) => r.pendingPush && !r.externalId.startsWith('local-'));
    expect(carried).toBeDefined();
    expect(await s.push(carried!)).toBe('pushed');
    expect(await s.openConflicts()).toHaveLength(0);
    return carried!;
  }

  test('a create whose answer was lost, then a PATCH of the e-mail: one record at the provider, with the new e-mail', async () => {
    const s = await setup();
    const email = `lost.create.${tag}@example.com`;
    const fixed = `lost.create.fixed.${tag}@example.com`;
    await lostCreateThen(s, { name: 'Lost Create', email, currency: 'EUR' }, async (created) => (await s.changes.update(s.scope, created.externalId, { email: fixed })).record);
    expect(await s.providerByEmail(email)).toHaveLength(0);
    const [atProvider] = await s.providerByEmail(fixed);
    expect(atProvider).toMatchObject({ name: 'Lost Create' });
    expect((await s.live()).map((r) => [r.externalId, r.data.email])).toEqual([[String(atProvider.id), fixed]]);
  });

  test('a create whose worker died after the provider took it (nothing recorded), then a PATCH: one record at the provider', async () => {
    const s = await setup();
    const email = `died.create.${tag}@example.com`;
    const fixed = `died.create.fixed.${tag}@example.com`;
    const created = await s.changes.create(s.scope, { name: 'Died Create', email, currency: 'EUR' });
    // The provider commits the create; the worker never gets further (it died): nothing more is
    // recorded by it, and its message is redelivered later.
    let providerTook!: () => void;
    const took = new Promise<void>((resolve) => (providerTook = resolve));
    levers.afterPush = () => {
      providerTook();
      return new Promise<void>(() => undefined);
    };
    void s.push(created);
    await took;
    const { record: edited } = await s.changes.update(s.scope, created.externalId, { email: fixed });
    expect(await s.push(created)).toBe('superseded'); // the redelivered message of the dead worker
    expect(await s.push(edited)).toBe('pushed');
    // The edit goes out as a change of the record the provider made, under an entry of its own.
    const all = (await records.list({ tenantId: 't1', connectionId: s.connectionId, entity: 'customers', limit: 50, includeDeleted: true })).records;
    const carried = all.find((r) => r.pendingPush && !r.externalId.startsWith('local-'));
    expect(carried).toBeDefined();
    expect(await s.push(carried!)).toBe('pushed');
    expect(await s.providerByEmail(email)).toHaveLength(0);
    expect(await s.providerByEmail(fixed)).toMatchObject([{ name: 'Died Create' }]);
    expect(await s.live()).toHaveLength(1);
  });

  test('a create dead-lettered after lost answers, replayed, then edited before the replay ran: one record at the provider', async () => {
    const s = await setup();
    const email = `replayed.create.${tag}@example.com`;
    const created = await s.changes.create(s.scope, { name: 'Replayed Create', email, currency: 'EUR' });
    const first = created.pendingPush!.outboxId;
    // Every attempt reaches the provider (its Idempotency-Key keeps one record) and loses its answer.
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      levers.loseNextPushResponse = true;
      expect(await s.push(created)).toBe(attempt < 5 ? 'retry_scheduled' : 'dead');
    }
    expect(await s.providerByEmail(email)).toHaveLength(1);
    await s.resolver.replay('t1', first); // attempts back to 0: its key went out all the same
    const { record: edited } = await s.changes.update(s.scope, created.externalId, { notes: 'edited before the replay ran' });
    expect(await s.outbound.handle({ outboxId: first })).toBe('superseded'); // the replay's message
    expect(await s.push(edited)).toBe('pushed');
    const all = (await records.list({ tenantId: 't1', connectionId: s.connectionId, entity: 'customers', limit: 50, includeDeleted: true })).records;
    const carried = all.find((r) => r.pendingPush && !r.externalId.startsWith('local-'));
    if (carried) expect(await s.push(carried)).toBe('pushed');
    expect(await s.providerByEmail(email)).toMatchObject([{ name: 'Replayed Create', notes: 'edited before the replay ran' }]);
    expect(await s.live()).toHaveLength(1);
  });

  test('a create whose answer was lost, then two PATCHes of another field: no duplicate_key, the record has the last value', async () => {
    const s = await setup();
    const email = `lost.create2.${tag}@example.com`;
    await lostCreateThen(s, { name: 'Lost Create 2', email, currency: 'EUR' }, async (created) => {
      await s.changes.update(s.scope, created.externalId, { notes: 'first edit' });
      return (await s.changes.update(s.scope, created.externalId, { notes: 'edited while the create retries' })).record;
    });
    expect(await s.providerByEmail(email)).toMatchObject([{ notes: 'edited while the create retries' }]);
    expect(await s.live()).toHaveLength(1);
  });

  test('a create whose answer was lost, then a DELETE: the record the provider created is deleted there too', async () => {
    const s = await setup();
    const email = `lost.create.deleted.${tag}@example.com`;
    const carried = await lostCreateThen(s, { name: 'Lost Then Deleted', email, currency: 'EUR' }, (created) => s.changes.remove(s.scope, created.externalId));
    expect(await s.stored(carried.externalId)).toMatchObject({ deleted: true });
    expect((await s.stored(carried.externalId))!.pendingPush ?? null).toBeNull();
    expect(await s.providerByEmail(email)).toHaveLength(0);
    expect(await s.live()).toHaveLength(0);
  });

  /**
   * A record the provider deleted while it was edited here, kept by a `local` resolution: a
   * re-create (it keeps its provider id, and goes out as a create unless the provider has it after
   * all). Its answer is lost, and the record is changed again before its retry runs.
   */
  async function lostRecreateThen(s: Awaited<ReturnType<typeof setup>>, n: number, change: (id: string) => Promise<SyncRecord>, options: { stillThere?: boolean } = {}) {
    const id = cus(n);
    const before = await s.pulled(id);
    const edited = (await s.changes.update(s.scope, id, { notes: 'kept here' })).record;
    if (options.stillThere) levers.hidden.add(id); // a 404 that was not the provider's last word
    else await sandboxRequest('DELETE', `records/customers/${id}`);
    expect(await s.push(edited)).toBe('parked');
    const [conflict] = await s.openConflicts();
    expect(conflict).toMatchObject({ kind: 'data_mismatch', remote: null });
    const { record: recreated } = await s.resolver.resolve('t1', conflict.id, { resolution: 'local' });
    expect(recreated!.pendingPush).toMatchObject({ op: 'create' });
    levers.hidden.delete(id);
    levers.loseNextPushResponse = true;
    expect(await s.push(recreated!)).toBe('retry_scheduled'); // the provider took it; its answer was lost
    const changed = await change(id);
    expect(await s.push(changed)).toBe('pushed');
    expect(await s.push(recreated!)).toBe('superseded'); // its retry: the record moved on
    const all = (await records.list({ tenantId: 't1', connectionId: s.connectionId, entity: 'customers', limit: 50, includeDeleted: true })).records;
    for (const carried of all.filter((r) => r.pendingPush)) expect(await s.push(carried)).toBe('pushed');
    expect(await s.openConflicts()).toHaveLength(0);
    return { id, email: String(before.data.email) };
  }

  test('a re-create whose answer was lost, then a PATCH: one record at the provider, with the edit (review finding: a second create went out)', async () => {
    const s = await setup();
    const { id, email } = await lostRecreateThen(s, 21, async (externalId) => (await s.changes.update(s.scope, externalId, { notes: 'edited after the lost answer' })).record);
    const atProvider = await s.providerByEmail(email);
    expect(atProvider).toMatchObject([{ notes: 'edited after the lost answer' }]);
    expect(String(atProvider[0].id)).not.toBe(id); // created again under a new id
    expect((await s.live()).map((r) => [r.externalId, r.data.notes])).toEqual([[String(atProvider[0].id), 'edited after the lost answer']]);
  });

  test('a re-create whose answer was lost, then a DELETE: the record it made at the provider is deleted there too', async () => {
    const s = await setup();
    const { email } = await lostRecreateThen(s, 22, (externalId) => s.changes.remove(s.scope, externalId));
    expect(await s.providerByEmail(email)).toHaveLength(0);
    expect(await s.live()).toHaveLength(0);
  });

  test('a re-create that went out in place (the provider had the record after all), its answer lost, then a PATCH: the same record updated, no create', async () => {
    const s = await setup();
    const created = (await sandboxRequest('GET', 'stats')).writes.created;
    const { id, email } = await lostRecreateThen(s, 23, async (externalId) => (await s.changes.update(s.scope, externalId, { notes: 'edited after the in-place update' })).record, { stillThere: true });
    expect(await s.providerByEmail(email)).toMatchObject([{ id, notes: 'edited after the in-place update' }]);
    expect((await sandboxRequest('GET', 'stats')).writes.created).toBe(created);
    expect((await s.live()).map((r) => r.externalId)).toEqual([id]);
  });

  /** A record the provider deleted (or hid: `hide`) while edited here, kept by a `local` resolution: its re-create. */
  async function recreated(s: Awaited<ReturnType<typeof setup>>, id: string, hide = false) {
    const before = await s.pulled(id);
    const edited = (await s.changes.update(s.scope, id, { notes: 'kept here' })).record;
    if (hide) levers.hidden.add(id);
    else await sandboxRequest('DELETE', `records/customers/${id}`);
    expect(await s.push(edited)).toBe('parked');
    const [conflict] = await s.openConflicts();
    const { record } = await s.resolver.resolve('t1', conflict.id, { resolution: 'local' });
    levers.hidden.delete(id);
    return { record: record!, email: String(before.data.email) };
  }

  test('a re-create whose worker died after the provider took it (nothing recorded), then a PATCH: one record at the provider (review finding: a second create went out)', async () => {
    const s = await setup();
    const id = cus(25);
    const { record: again, email } = await recreated(s, id);
    let providerTook!: () => void;
    const took = new Promise<void>((resolve) => (providerTook = resolve));
    levers.afterPush = () => {
      providerTook();
      return new Promise<void>(() => undefined); // the worker never gets further
    };
    void s.push(again);
    await took;
    const { record: edited } = await s.changes.update(s.scope, id, { notes: 'edited after the worker died' });
    expect(await s.push(again)).toBe('superseded'); // the dead worker's redelivered message
    expect(await s.push(edited)).toBe('pushed');
    const all = (await records.list({ tenantId: 't1', connectionId: s.connectionId, entity: 'customers', limit: 50, includeDeleted: true })).records;
    for (const carried of all.filter((r) => r.pendingPush)) expect(await s.push(carried)).toBe('pushed');
    expect(await s.providerByEmail(email)).toMatchObject([{ notes: 'edited after the worker died' }]);
    expect(await s.live()).toHaveLength(1);
  });

  test('a re-create that went in place and was parked by a change at the provider: a later edit is not taken for an unusable create', async () => {
    const s = await setup();
    const id = cus(26);
    const { record: again } = await recreated(s, id, true);
    // Between the re-create's read of the provider and its update there, the provider changes the same field.
    levers.beforePush = async () => {
      await sandboxRequest('PATCH', `records/customers/${id}`, { notes: 'changed at the provider' });
    };
    expect(await s.push(again)).toBe('parked');
    const [inPlace] = await s.openConflicts();
    expect(inPlace).toMatchObject({ kind: 'data_mismatch', fields: ['notes'], remote: expect.objectContaining({ notes: 'changed at the provider' }) });
    const { record: edited } = await s.changes.update(s.scope, id, { name: 'Edited After' });
    expect(await s.push(edited)).toBe('pushed'); // in place, as a re-create; before: parked as "probably exists under an id unknown here"
    expect(await s.remote(id)).toMatchObject({ name: 'Edited After', notes: 'kept here' });
    expect((await s.live()).map((r) => r.externalId)).toEqual([id]);
  });

  test('a create edited before its first attempt still goes out once, as one create with the edited data', async () => {
    const s = await setup();
    const email = `edited.before.push.${tag}@example.com`;
    const created = await s.changes.create(s.scope, { name: 'Edited Early', email, currency: 'EUR' });
    const { record: edited } = await s.changes.update(s.scope, created.externalId, { notes: 'before the push' });
    expect(await s.push(created)).toBe('superseded'); // its message comes first, and never sent it
    expect(await s.push(edited)).toBe('pushed');
    expect(await s.providerByEmail(email)).toMatchObject([{ notes: 'before the push' }]);
    expect((await s.live()).filter((r) => r.pendingPush)).toHaveLength(0); // nothing carried over: one request
  });
  test('a create sent again by a later edit whose answer was lost too: an edit after that sends the same first create, not a second one', async () => {
    const s = await setup();
    const email = `lost.twice.${tag}@example.com`;
    const created = await s.changes.create(s.scope, { name: 'Lost Twice', email, currency: 'EUR' });
    const { record: first } = await s.changes.update(s.scope, created.externalId, { notes: 'first edit' });
    // The edit's message runs before the create's (a relayed message): the create may be in
    // flight, so the edit sends it under its key, and that answer is lost too.
    levers.loseNextPushResponse = true;
    expect(await s.push(first)).toBe('retry_scheduled');
    expect(await s.push(created)).toBe('superseded'); // closed, yet its key went out
    const { record: second } = await s.changes.update(s.scope, created.externalId, { notes: 'second edit' });
    expect(await s.push(second)).toBe('pushed');
    const carried = (await records.list({ tenantId: 't1', connectionId: s.connectionId, entity: 'customers', limit: 50, includeDeleted: true })).records.find((r) => r.pendingPush && !r.externalId.startsWith('local-'));
    expect(await s.push(carried!)).toBe('pushed');
    expect(await s.push(first)).toBe('superseded');
    expect(await s.providerByEmail(email)).toMatchObject([{ notes: 'second edit' }]);
    expect(await s.live()).toHaveLength(1);
    expect(await s.openConflicts()).toHaveLength(0);
  });
});
