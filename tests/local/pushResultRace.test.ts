import { sandboxProvider } from '../../shared/adapters/providers/sandbox';
import type { Services } from '../../shared/composition';
import type { SyncRecord } from '../../shared/core/model';
import { ConflictResolver } from '../../shared/core/outbound/conflictResolution';
import { LocalChangeService } from '../../shared/core/outbound/localChanges';
import { OutboundService } from '../../shared/core/outbound/outboundService';
import type { Platform } from '../../shared/ports/platform';
import type { RecordStore } from '../../shared/ports/recordStore';
import type { RunningSandbox } from '../../sandbox/server';
import { ApiClient } from '../support/apiClient';
import { deliverPush, storePulled } from './helpers';
import { expectSyncBridgeError } from '../conformance/fixtures';
import { afterProviderWrite, signal, startRacePlatform, type RaceHooks, type RacePlatform } from './racingPlatform';

/**
 * Recording a push's result (OutboundService.agree) reads the record and writes it back; on Cosmos
 * DB those are two round trips, and a local change can commit between them. Here the record store
 * is wrapped so that a change lands exactly there — and, the other way round, so that a local
 * change reads the record before the push is recorded and commits after. Each case runs on the
 * SQLite stores and on the Cosmos DB stores (@vercel/cosmosdb-server), against the real sandbox.
 */

describe.each(['SQLite', 'Cosmos DB'] as const)('recording a push\'s result while a local change commits (%s)', (store) => {
  let race: RacePlatform;
  let sandbox: RunningSandbox;
  let platform: Platform;
  /** The record store without the hooks. */
  let records: RecordStore;
  let services: Services;
  let hooks: RaceHooks;
  let connections = 0;
  /** The sandbox adapter, with a hook that runs after the provider accepted a push. */
  const hooked = afterProviderWrite(sandboxProvider);

  /**
   * For hooked.next: starts `change` (a PATCH), lets it read the record now, and holds its
   * commit until agree() has written — the PATCH that read before the push was recorded.
   */
  const readBeforeAgreeWrites = (change: () => Promise<unknown>) => async () => {
    const changeRead = signal();
    const agreeWrote = signal();
    hooks.afterWrite.push(agreeWrote.fire);
    hooks.afterRead.push(async () => {
      changeRead.fire();
      await agreeWrote.promise;
    });
    // The test checks the change's outcome through its own promise, possibly after it settled: a
    // rejection (the 404 of a PATCH whose record moved) must not count as unhandled meanwhile.
    change().catch(() => undefined);
    await changeRead.promise;
  };

  beforeAll(async () => {
    race = await startRacePlatform(store, [hooked.adapter]);
    ({ sandbox, platform, records, services, hooks } = race);
  });
  afterAll(async () => {
    await race.close();
  });
  afterEach(() => {
    race.clearHooks();
    hooked.clear();
  });

  async function setup() {
    const connectionId = `race${(connections += 1)}`;
    const scope = await race.twoWayConnection(connectionId, { default: { kind: 'manual' } });
    const changes = new LocalChangeService(platform);
    const outbound = new OutboundService(platform, services.adapters, { retry: { initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 3 }, random: () => 0.5 });
    const remote = (id: string) => sandboxRequest('GET', `records/customers/${id}`);
    /** The provider's record stored locally as a pull stores it. */
    const pulled = async (id: string): Promise<SyncRecord> => storePulled(platform.records, scope, id, await remote(id));
    const push = (record: SyncRecord) => deliverPush(platform.outbox, outbound, record);
    const stored = (id: string) => platform.records.get(scope, id);
    const live = async () => (await platform.records.list({ tenantId: 't1', connectionId, entity: 'customers', limit: 10, includeDeleted: false })).records;
    return { connectionId, scope, changes, outbound, remote, pulled, push, stored, live };
  }

  /** The sandbox's control API (tests/support/apiClient.ts). */
  const sandboxRequest = (method: string, path: string, body?: unknown): Promise<any> => new ApiClient('', sandbox.url, '').sandbox(method, path, body);

  const cus = (n: number) => `cus_${String(n).padStart(7, '0')}`;

  test('a PATCH committed between the read and the write survives, and its own push goes out', async () => {
    const s = await setup();
    const id = cus(1);
    await s.pulled(id);
    const first = (await s.changes.update(s.scope, id, { name: 'Pushed Name' })).record;
    let edited: SyncRecord | undefined;
    hooked.next(async () => {
      // The provider accepted the push; the worker's next read is the one agree() makes.
      hooks.afterRead.push(async () => {
        edited = (await s.changes.update(s.scope, id, { notes: 'edited mid-agree' })).record;
      });
    });
    expect(await s.push(first)).toBe('pushed');
    expect(edited?.version).toBe(3);
    const after = await s.stored(id);
    expect(after?.data).toMatchObject({ name: 'Pushed Name', notes: 'edited mid-agree' });
    expect(after?.pendingPush).toMatchObject({ version: 3, outboxId: edited!.pendingPush!.outboxId });
    expect(after?.base).toMatchObject({ name: 'Pushed Name' }); // rebased onto what the provider accepted
    expect(await s.push(edited!)).toBe('pushed');
    expect(await s.remote(id)).toMatchObject({ name: 'Pushed Name', notes: 'edited mid-agree' });
    const settled = await s.stored(id);
    expect(settled?.data).toMatchObject({ name: 'Pushed Name', notes: 'edited mid-agree' });
    expect(settled?.pendingPush).toBeUndefined();
  });

  test('a PATCH committed between the read and the write of a create moves with it to the provider\'s id', async () => {
    const s = await setup();
    const created = await s.changes.create(s.scope, { name: 'Race Create', email: `race.create.${store === 'SQLite' ? 'sqlite' : 'cosmos'}@example.com`, currency: 'EUR' });
    hooked.next(async () => {
      hooks.afterRead.push(async () => {
        await s.changes.update(s.scope, created.externalId, { notes: 'edited mid-agree' });
      });
    });
    expect(await s.push(created)).toBe('pushed');
    expect(await s.stored(created.externalId)).toMatchObject({ deleted: true });
    const [moved] = await s.live();
    expect(moved.externalId).not.toMatch(/^local-/);
    expect(moved.data).toMatchObject({ name: 'Race Create', notes: 'edited mid-agree' });
    expect(moved.pendingPush).toMatchObject({ op: 'update' });
    expect(await s.push(moved)).toBe('pushed');
    expect(await s.remote(moved.externalId)).toMatchObject({ name: 'Race Create', notes: 'edited mid-agree' });
  });

  test('a PATCH that read before the push was recorded and commits after it keeps what the push recorded', async () => {
    const s = await setup();
    const id = cus(2);
    await s.pulled(id);
    const first = (await s.changes.update(s.scope, id, { name: 'Pushed Name' })).record;
    let patch: Promise<{ record: SyncRecord }> | undefined;
    hooked.next(readBeforeAgreeWrites(() => (patch = s.changes.update(s.scope, id, { notes: 'read before agree' }))));
    expect(await s.push(first)).toBe('pushed');
    const { record: edited } = await patch!;
    const providerCopy = await s.remote(id);
    const after = await s.stored(id);
    // Based on what the provider holds after the first push, not on the base from before it.
    expect(after?.base).toEqual(providerCopy);
    expect(after?.sourceUpdatedAt).toBe(providerCopy.updated_at);
    expect(after?.data).toMatchObject({ name: 'Pushed Name', notes: 'read before agree' });
    expect(after?.pendingPush?.outboxId).toBe(edited.pendingPush!.outboxId);
    expect(await s.push(edited)).toBe('pushed'); // the remote equals the base: a plain push, no merge
    expect(await s.remote(id)).toMatchObject({ name: 'Pushed Name', notes: 'read before agree' });
  });

  test('a PATCH that read a local create before it moved to the provider\'s id does not bring it back (no second create)', async () => {
    const s = await setup();
    const created = await s.changes.create(s.scope, { name: 'Race Moved', email: `race.moved.${store === 'SQLite' ? 'sqlite' : 'cosmos'}@example.com`, currency: 'EUR' });
    let patch: Promise<unknown> | undefined;
    hooked.next(readBeforeAgreeWrites(() => (patch = s.changes.update(s.scope, created.externalId, { notes: 'read before the move' }))));
    expect(await s.push(created)).toBe('pushed');
    await patch!.catch(() => undefined);
    // Had the PATCH committed, the temporary id would be live again with a pending create: a second record at the provider.
    expect(await s.stored(created.externalId)).toMatchObject({ deleted: true });
    expect((await s.stored(created.externalId))?.pendingPush).toBeUndefined();
    // Read again, the record is no longer live under its temporary id: the PATCH answers 404, as
    // one arriving a moment later does.
    await expectSyncBridgeError(patch!, 'not_found');
    const live = await s.live();
    expect(live).toHaveLength(1);
    expect(live[0].externalId).not.toMatch(/^local-/);
    expect(live[0].pendingPush).toBeUndefined();
  });

  test('a push whose result cannot be recorded (the record changes every time) is retried, not dropped', async () => {
    const s = await setup();
    const id = cus(3);
    await s.pulled(id);
    const first = (await s.changes.update(s.scope, id, { name: 'Contended' })).record;
    hooked.next(async () => {
      // Another write after each of agree()'s reads: an unconditional rewrite of the record as it is.
      const rewrite = async () => {
        await records.write([(await records.get(s.scope, id))!]);
      };
      hooks.afterRead.push(...Array.from({ length: 5 }, () => rewrite));
    });
    expect(await s.push(first)).toBe('retry_scheduled');
    expect(await platform.outbox.get(first.pendingPush!.outboxId)).toMatchObject({ state: 'pending', attempts: 1, lastError: expect.stringMatching(/changed during each of 5 attempts/) });
    expect((await s.stored(id))?.pendingPush?.outboxId).toBe(first.pendingPush!.outboxId);
    // The retry reads the provider's copy first, finds the change there already, and records it.
    expect(await s.push(first)).toBe('merged');
    expect((await s.stored(id))?.pendingPush).toBeUndefined();
    expect(await s.remote(id)).toMatchObject({ name: 'Contended' });
  });

  test('resolving a conflict while a PATCH commits answers conflict and keeps the PATCH', async () => {
    const s = await setup();
    const id = cus(4);
    await s.pulled(id);
    await sandboxRequest('PATCH', `records/customers/${id}`, { name: 'Remote Name' });
    const parked = (await s.changes.update(s.scope, id, { name: 'Local Name' })).record;
    expect(await s.push(parked)).toBe('parked');
    const [conflict] = (await platform.conflicts.list({ tenantId: 't1', connectionId: s.connectionId, state: 'open', limit: 10 })).conflicts;
    let edited: SyncRecord | undefined;
    hooks.afterRead.push(async () => {
      edited = (await s.changes.update(s.scope, id, { notes: 'edited mid-resolve' })).record;
    });
    // "remote" with nothing only this side changed: a plain record write, no outbox entry of its own.
    await expectSyncBridgeError(new ConflictResolver(platform, s.changes).resolve('t1', conflict.id, { resolution: 'remote' }), 'conflict');
    const after = await s.stored(id);
    expect(after?.data).toMatchObject({ name: 'Local Name', notes: 'edited mid-resolve' });
    expect(after?.pendingPush?.outboxId).toBe(edited!.pendingPush!.outboxId);
    expect(await platform.conflicts.get('t1', conflict.id)).toMatchObject({ state: 'open' });
  });
});
