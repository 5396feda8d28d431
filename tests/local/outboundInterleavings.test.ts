import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { AdapterDefinition, PushRequest } from '../../shared/adapters/adapter';
import { sandboxProvider } from '../../shared/adapters/providers/sandbox';
import { AdapterRegistry } from '../../shared/adapters/registry';
import { createServices, type Services } from '../../shared/composition';
import { SyncBridgeError } from '../../shared/core/errors';
import type { EntityMergePolicy } from '../../shared/core/merge';
import type { SyncRecord } from '../../shared/core/model';
import { ConflictResolver } from '../../shared/core/outbound/conflictResolution';
import { LocalChangeService } from '../../shared/core/outbound/localChanges';
import { OutboundService } from '../../shared/core/outbound/outboundService';
import { settleParkedPushes } from '../../shared/core/outbound/settledPushes';
import { applyPage } from '../../shared/pipeline/applyPage';
import { createLocalPlatform, type LocalPlatform } from '../../shared/platform/local/localPlatform';
import { startSandbox, type RunningSandbox } from '../../sandbox/server';
import { ApiClient } from '../support/apiClient';
import { deliverPush, storePulled } from './helpers';

/**
 * The outbound worker's logic against the real sandbox over HTTP, with the pushes driven by hand
 * so that a local change can land at an exact moment: after the provider accepted a push and
 * before the worker records the agreement (the window a real worker is in while its push is in
 * flight). Each case ends with what the provider holds and what the local record holds.
 */
describe('outbound pushes with local changes landing mid-push', () => {
  let sandbox: RunningSandbox;
  let platform: LocalPlatform;
  let services: Services;
  let dataDir: string;
  let afterProviderWrite: ((request: PushRequest) => Promise<void>) | null = null;
  let failPushes: SyncBridgeError | null = null;
  let connections = 0;

  /** The sandbox adapter, with a hook that runs after the provider accepted a push. */
  const hooked: AdapterDefinition = {
    ...sandboxProvider,
    create(context) {
      const adapter = sandboxProvider.create(context);
      return {
        provider: adapter.provider,
        listPage: (request) => adapter.listPage(request),
        getRecord: (entity, id) => adapter.getRecord(entity, id),
        checkHealth: () => adapter.checkHealth(),
        push: async (request) => {
          if (failPushes) throw failPushes;
          const result = await adapter.push!(request);
          const hook = afterProviderWrite;
          afterProviderWrite = null;
          if (hook) await hook(request);
          return result;
        },
      };
    },
  };

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, recordsPerEntity: 30 });
    dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-outbound-'));
    platform = createLocalPlatform({ dataDir, telemetrySink: new PassThrough().resume(), checkpointIntervalMs: 0 });
    services = createServices(platform, { adapters: new AdapterRegistry([hooked]) });
    await services.tenants.ensureTenant('t1', 'Tenant one');
  });
  afterAll(async () => {
    await platform.close();
    await sandbox.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  afterEach(() => {
    afterProviderWrite = null;
    failPushes = null;
  });

  async function setup(policy: EntityMergePolicy = { default: { kind: 'manual' } }) {
    const connectionId = `ob${(connections += 1)}`;
    await services.connections.create({
      tenantId: 't1',
      id: connectionId,
      provider: 'sandbox',
      config: { baseUrl: sandbox.url, mergePolicy: { customers: policy } },
      credentials: { type: 'apiKey', apiKey: sandbox.apiKey },
      entities: [{ name: 'customers', direction: 'both' }],
    });
    const scope = { tenantId: 't1', connectionId, entity: 'customers' };
    const changes = new LocalChangeService(platform);
    const outbound = new OutboundService(platform, services.adapters, { retry: { initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 2 }, random: () => 0.5 });
    const resolver = new ConflictResolver(platform, changes);
    const remote = (id: string) => sandboxRequest('GET', `records/customers/${id}`);
    const changeRemote = (id: string, fields: Record<string, unknown>) => sandboxRequest('PATCH', `records/customers/${id}`, fields);
    /** The provider's record stored locally as a pull stores it. */
    const pulled = async (id: string): Promise<SyncRecord> => storePulled(platform.records, scope, id, await remote(id));
    const push = (record: SyncRecord) => deliverPush(platform.outbox, outbound, record);
    const local = (id: string) => platform.records.get(scope, id);
    let steps = 0;
    /** Applies a pull page holding `data` (a copy of the provider's record) as the step runner does. */
    const pullPage = async (data: Record<string, any>) => {
      const applied = await applyPage({
        records: platform.records, scope, runId: `run_${connectionId}`, stepId: `run_${connectionId}:customers:${(steps += 1)}`, mode: 'incremental',
        page: [{ externalId: String(data.id), updatedAt: String(data.updated_at), deleted: false, data }], now: new Date().toISOString(), mergePolicy: policy,
      });
      await settleParkedPushes(platform, applied.settledPushes);
      return applied;
    };
    return { connectionId, scope, changes, outbound, resolver, remote, changeRemote, pulled, push, local, pullPage };
  }

  /** The sandbox's control API (tests/support/apiClient.ts). */
  const sandboxRequest = (method: string, path: string, body?: unknown): Promise<any> => new ApiClient('', sandbox.url, '').sandbox(method, path, body);

  const cus = (n: number) => `cus_${String(n).padStart(7, '0')}`;

  test('a PATCH while a local create is being pushed reaches the provider after the create', async () => {
    const s = await setup();
    const created = await s.changes.create(s.scope, { name: 'New', email: 'new.one@example.com', currency: 'EUR' });
    let edited: SyncRecord | undefined;
    afterProviderWrite = async () => {
      edited = (await s.changes.update(s.scope, created.externalId, { name: 'New Edited' })).record;
    };
    expect(await s.push(created)).toBe('pushed');
    const listed = (await platform.records.list({ tenantId: 't1', connectionId: s.connectionId, entity: 'customers', limit: 10, includeDeleted: true })).records;
    expect(listed.find((r) => r.externalId === created.externalId)).toMatchObject({ deleted: true });
    const moved = listed.filter((r) => !r.deleted); // the record lives at the provider's id now
    const providerId = moved[0].externalId;
    expect(providerId).not.toMatch(/^local-/);
    expect(moved[0].data.name).toBe('New Edited');
    expect(moved[0].pendingPush).toBeDefined();
    expect(await s.push(edited!)).toBe('superseded'); // the edit's entry at the local id is replaced by one at the provider id
    expect(await s.push(moved[0])).toBe('pushed');
    expect((await s.remote(providerId)).name).toBe('New Edited');
    const settled = await s.local(providerId);
    expect(settled).toMatchObject({ deleted: false, data: expect.objectContaining({ name: 'New Edited', email: 'new.one@example.com' }) });
    expect(settled?.pendingPush).toBeUndefined();
    const stats = await sandboxRequest('GET', 'stats');
    expect(stats.writes.created).toBeGreaterThanOrEqual(1);
  });

  test('a DELETE while a local create is being pushed deletes it at the provider too', async () => {
    const s = await setup();
    const created = await s.changes.create(s.scope, { name: 'Short Lived', email: 'short.lived@example.com', currency: 'EUR' });
    let providerId = '';
    afterProviderWrite = async () => {
      await s.changes.remove(s.scope, created.externalId);
    };
    expect(await s.push(created)).toBe('pushed');
    const [moved] = (await platform.records.list({ tenantId: 't1', connectionId: s.connectionId, entity: 'customers', limit: 10, includeDeleted: true })).records.filter((r) => !r.externalId.startsWith('local-'));
    providerId = moved.externalId;
    expect(moved).toMatchObject({ deleted: true, pendingPush: expect.objectContaining({ op: 'delete' }) });
    expect(await s.push(moved)).toBe('pushed');
    await expect(s.remote(providerId)).rejects.toThrow(/404/);
    expect((await s.local(providerId))?.pendingPush).toBeUndefined();
  });

  test('a PATCH during a merged push keeps the provider\'s own change to another field', async () => {
    const s = await setup();
    const id = cus(1);
    await s.pulled(id);
    await s.changeRemote(id, { phone: '+1 555 000 0001' });
    const first = (await s.changes.update(s.scope, id, { name: 'Local Name' })).record;
    let second: SyncRecord | undefined;
    afterProviderWrite = async () => {
      second = (await s.changes.update(s.scope, id, { notes: 'edited while the merge was pushed' })).record;
    };
    expect(await s.push(first)).toBe('merged');
    expect(await s.push(second!)).toBe('pushed');
    const there = await s.remote(id);
    expect(there).toMatchObject({ name: 'Local Name', phone: '+1 555 000 0001', notes: 'edited while the merge was pushed' });
    expect((await s.local(id))?.data).toMatchObject({ name: 'Local Name', phone: '+1 555 000 0001', notes: 'edited while the merge was pushed' });
  });

  test('a pull that reads the pushed change back mid-push settles the record: agree() leaves it agreed, with no base', async () => {
    const s = await setup();
    const id = cus(7);
    await s.pulled(id);
    const change = (await s.changes.update(s.scope, id, { name: 'Pushed Then Pulled' })).record;
    afterProviderWrite = async () => {
      // A pull (or webhook) lands after the provider accepted the push, before agree() reads the record.
      await s.pullPage(await s.remote(id));
    };
    expect(await s.push(change)).toBe('pushed');
    const after = await s.local(id);
    expect(after?.data).toEqual(await s.remote(id));
    expect(after?.pendingPush).toBeUndefined();
    expect(after?.base).toBeUndefined(); // agreed: no base, as after any settled push
    expect(await platform.outbox.get(change.pendingPush!.outboxId)).toMatchObject({ state: 'done' });
    // Nothing is left to push, and the next local change is based on the provider's copy.
    const next = (await s.changes.update(s.scope, id, { notes: 'after the race' })).record;
    expect(next.base).toEqual(await s.remote(id));
    expect(await s.push(next)).toBe('pushed');
    expect(await s.remote(id)).toMatchObject({ name: 'Pushed Then Pulled', notes: 'after the race' });
  });

  test('a pull page read before the push landed, applied mid-push, does not leave the record pending on a finished push', async () => {
    const s = await setup();
    const id = cus(8);
    await s.pulled(id);
    await s.changeRemote(id, { phone: '+1 555 000 0008' });
    const stalePage = await s.remote(id); // the provider's copy a pull fetched before the push (prefetched page)
    const change = (await s.changes.update(s.scope, id, { name: 'Merged Then Pulled' })).record;
    afterProviderWrite = async () => {
      // The pull merges its older copy into the record, which still waits for this push.
      await s.pullPage(stalePage);
      const merged = await s.local(id);
      expect(merged?.pendingPush?.outboxId).toBe(change.pendingPush!.outboxId);
      expect(merged?.version).toBe(change.version + 1);
    };
    expect(await s.push(change)).toBe('merged');
    expect(await platform.outbox.get(change.pendingPush!.outboxId)).toMatchObject({ state: 'done' });
    // Not a local change, so not carried over as one; and the finished entry is not left pending:
    // what the pull merged goes out under a new entry, which compares it with the provider's copy.
    const resent = await s.local(id);
    expect(resent?.pendingPush?.outboxId).toBeDefined();
    expect(resent?.pendingPush?.outboxId).not.toBe(change.pendingPush!.outboxId);
    expect(resent?.base).toEqual(stalePage);
    const updatesBefore = (await sandboxRequest('GET', 'stats')).writes.updated;
    expect(await s.push(resent!)).toBe('merged'); // the provider has it all already: settled, nothing written there
    expect((await sandboxRequest('GET', 'stats')).writes.updated).toBe(updatesBefore);
    const providerCopy = await s.remote(id);
    expect(providerCopy).toMatchObject({ name: 'Merged Then Pulled', phone: '+1 555 000 0008' });
    const after = await s.local(id);
    expect(after?.data).toEqual(providerCopy);
    expect(after?.pendingPush).toBeUndefined();
    expect(after?.base).toBeUndefined();
  });

  test('a provider change read by a pull after the push landed is merged by the policy, and the merge\'s outcome is pushed', async () => {
    const s = await setup({ default: { kind: 'target-wins' } });
    const id = cus(9);
    await s.pulled(id);
    const change = (await s.changes.update(s.scope, id, { name: 'Local Wins' })).record;
    afterProviderWrite = async () => {
      // Someone renames the record at the provider right after the push; a pull reads that and
      // merges it under target-wins: the local name stays and still has to go out.
      await s.changeRemote(id, { name: 'Renamed There', phone: '+1 555 000 0009' });
      await s.pullPage(await s.remote(id));
    };
    expect(await s.push(change)).toBe('pushed');
    const resent = await s.local(id);
    expect(resent?.data).toMatchObject({ name: 'Local Wins', phone: '+1 555 000 0009' });
    expect(resent?.pendingPush?.outboxId).not.toBe(change.pendingPush!.outboxId);
    expect(await s.push(resent!)).toBe('pushed');
    expect(await s.remote(id)).toMatchObject({ name: 'Local Wins', phone: '+1 555 000 0009' });
    const after = await s.local(id);
    expect(after?.data).toEqual(await s.remote(id));
    expect(after?.pendingPush).toBeUndefined();
  });

  test('resolving "local" settles only the conflicting fields: the provider\'s change to another field stays', async () => {
    const s = await setup();
    const id = cus(2);
    await s.pulled(id);
    await s.changeRemote(id, { name: 'Remote Name', phone: '+1 555 000 0002' });
    const parked = (await s.changes.update(s.scope, id, { name: 'Local Name' })).record;
    expect(await s.push(parked)).toBe('parked');
    const [conflict] = (await platform.conflicts.list({ tenantId: 't1', connectionId: s.connectionId, state: 'open', limit: 10 })).conflicts;
    expect(conflict.fields).toEqual(['name']);
    const { record } = await s.resolver.resolve('t1', conflict.id, { resolution: 'local' });
    expect(await s.push(record!)).toBe('pushed');
    expect(await s.remote(id)).toMatchObject({ name: 'Local Name', phone: '+1 555 000 0002' });
    expect((await s.local(id))?.data).toMatchObject({ name: 'Local Name', phone: '+1 555 000 0002' });
  });

  test('resolving "remote" keeps the provider\'s value for the conflict and still pushes local-only changes', async () => {
    const s = await setup();
    const id = cus(3);
    await s.pulled(id);
    await s.changeRemote(id, { name: 'Remote Name' });
    const parked = (await s.changes.update(s.scope, id, { name: 'Local Name', notes: 'only changed here' })).record;
    expect(await s.push(parked)).toBe('parked');
    const [conflict] = (await platform.conflicts.list({ tenantId: 't1', connectionId: s.connectionId, state: 'open', limit: 10 })).conflicts;
    const { record } = await s.resolver.resolve('t1', conflict.id, { resolution: 'remote' });
    expect(record?.pendingPush).toBeDefined();
    expect(await s.push(record!)).toBe('pushed');
    expect(await s.remote(id)).toMatchObject({ name: 'Remote Name', notes: 'only changed here' });
    expect((await s.local(id))?.data).toMatchObject({ name: 'Remote Name', notes: 'only changed here' });
  });

  describe('a resolution after a pull merged a newer provider copy into the parked record (review finding: it resolved on the conflict\'s older copy)', () => {
    /** A conflict on `name` parked by the worker, then a provider change after it that a pull merges (manual: the local name stays). */
    async function parkedThenMovedOn(n: number, later: Record<string, unknown>) {
      const s = await setup();
      const id = cus(n);
      await s.pulled(id);
      await s.changeRemote(id, { name: 'Remote Name' });
      const parked = (await s.changes.update(s.scope, id, { name: 'Local Name' })).record;
      expect(await s.push(parked)).toBe('parked');
      const [conflict] = (await platform.conflicts.list({ tenantId: 't1', connectionId: s.connectionId, state: 'open', limit: 10 })).conflicts;
      expect(conflict).toMatchObject({ fields: ['name'], remote: expect.objectContaining({ name: 'Remote Name' }) });
      await s.changeRemote(id, later);
      await s.pullPage(await s.remote(id));
      return { s, id, conflict };
    }
    const updatesAtSandbox = async (): Promise<number> => (await sandboxRequest('GET', 'stats')).writes.updated;
    /** The resolution's push reads the provider, finds nothing to send, and leaves the record agreed with the provider's `expected` copy. */
    async function expectAgreedWithNothingSent(s: Awaited<ReturnType<typeof setup>>, id: string, record: SyncRecord, expected: Record<string, unknown>) {
      const updates = await updatesAtSandbox();
      expect(await s.push(record)).toBe('merged');
      expect(await updatesAtSandbox()).toBe(updates);
      const there = await s.remote(id);
      expect(there).toMatchObject(expected);
      const after = await s.local(id);
      expect(after?.data).toEqual(there);
      expect(after?.pendingPush).toBeUndefined();
    }

    test('"remote" ends on the provider\'s newest name, not the one the conflict showed, and writes nothing there', async () => {
      const { s, id, conflict } = await parkedThenMovedOn(10, { name: 'Remote Name Again', phone: '+1 555 000 0010' });
      expect((await s.local(id))?.data).toMatchObject({ name: 'Local Name', phone: '+1 555 000 0010' });
      const { record } = await s.resolver.resolve('t1', conflict.id, { resolution: 'remote' });
      // The conflict's name may be out of date: the worker reads the provider before anything is agreed.
      expect(record?.pendingPush).toBeDefined();
      await expectAgreedWithNothingSent(s, id, record!, { name: 'Remote Name Again', phone: '+1 555 000 0010' });
    });

    test('the provider took the local name: the pull agrees the record and closes the conflict as settled; nothing is pushed, nothing is left to resolve', async () => {
      const updates = await updatesAtSandbox();
      const { s, id, conflict } = await parkedThenMovedOn(11, { name: 'Local Name' });
      const after = await s.local(id);
      expect(after?.pendingPush).toBeUndefined(); // the pull read our value back: agreed
      expect(after?.data).toEqual(await s.remote(id));
      expect(await platform.conflicts.get('t1', conflict.id)).toMatchObject({ state: 'resolved', resolution: 'settled' });
      expect(await platform.outbox.get(conflict.outboxId)).toMatchObject({ state: 'done' }); // a message of it, if any, is skipped
      await expect(s.resolver.resolve('t1', conflict.id, { resolution: 'remote' })).rejects.toMatchObject({ code: 'conflict' });
      expect(await updatesAtSandbox()).toBe(updates); // nothing of ours (the control API's changes are not counted)
    });

    /** A conflict on `name` whose record has `notes` changed here alone, and the provider since took the local name. */
    async function settledByTheProvider(n: number) {
      const s = await setup();
      const id = cus(n);
      await s.pulled(id);
      await s.changeRemote(id, { name: 'Remote Name' });
      const parked = (await s.changes.update(s.scope, id, { name: 'Local Name', notes: 'only here' })).record;
      expect(await s.push(parked)).toBe('parked');
      const [conflict] = (await platform.conflicts.list({ tenantId: 't1', connectionId: s.connectionId, state: 'open', limit: 10 })).conflicts;
      await s.changeRemote(id, { name: 'Local Name' });
      return { s, id, conflict };
    }

    test('the provider took the local name while a field changed here alone waits behind the conflict: the pull closes it as settled and the entry goes out again with that field', async () => {
      const { s, id, conflict } = await settledByTheProvider(15);
      expect(conflict.fields).toEqual(['name']);
      const sent = platform.queue.depth('sync-outbound').active;
      await s.pullPage(await s.remote(id));
      expect(await platform.conflicts.get('t1', conflict.id)).toMatchObject({ state: 'resolved', resolution: 'settled' });
      expect(await platform.outbox.get(conflict.outboxId)).toMatchObject({ state: 'pending', attempts: 0, replays: 1 });
      expect(platform.queue.depth('sync-outbound').active).toBe(sent + 1);
      const waiting = await s.local(id);
      expect(waiting?.pendingPush?.outboxId).toBe(conflict.outboxId);
      expect(await s.push(waiting!)).toBe('pushed');
      const there = await s.remote(id);
      expect(there).toMatchObject({ name: 'Local Name', notes: 'only here' });
      const after = await s.local(id);
      expect(after?.data).toEqual(there);
      expect(after?.pendingPush).toBeUndefined();
      expect(await platform.outbox.get(conflict.outboxId)).toMatchObject({ state: 'done' });
    });

    test('a pull that leaves the conflict\'s field to a person keeps it open and the entry parked', async () => {
      const { conflict } = await parkedThenMovedOn(16, { name: 'Remote Name Again' });
      expect(await platform.conflicts.get('t1', conflict.id)).toMatchObject({ state: 'open' });
      expect(await platform.outbox.get(conflict.outboxId)).toMatchObject({ state: 'parked' });
    });

    test('a record changed after the merge that settled it is left alone: what changed it decides (review finding: settled on a stale read)', async () => {
      const { s, id, conflict } = await settledByTheProvider(18);
      const data = await s.remote(id);
      const applied = await applyPage({
        records: platform.records, scope: s.scope, runId: 'run_stale', stepId: 'run_stale:customers:1', mode: 'incremental',
        page: [{ externalId: id, updatedAt: String(data.updated_at), deleted: false, data }], now: new Date().toISOString(), mergePolicy: { default: { kind: 'manual' } },
      });
      expect(applied.settledPushes).toMatchObject([{ externalId: id, outboxId: conflict.outboxId, agreed: false }]);
      const edited = (await s.changes.update(s.scope, id, { notes: 'edited after the merge' })).record; // before the settle runs
      await settleParkedPushes(platform, applied.settledPushes);
      expect(await platform.conflicts.get('t1', conflict.id)).toMatchObject({ state: 'open' });
      const entry = await platform.outbox.get(conflict.outboxId);
      expect([entry?.state, entry?.replays ?? 0]).toEqual(['parked', 0]);
      expect(await s.push(edited)).toBe('pushed'); // the edit's own entry carries everything since the base
      expect(await s.remote(id)).toMatchObject({ name: 'Local Name', notes: 'edited after the merge' });
    });

    test('closing the conflict failing after the entry went out again leaves it open and the push on its way; a person resolving it then finds the record agreed', async () => {
      const { s, id, conflict } = await settledByTheProvider(19);
      const warnings: string[] = [];
      const flaky = {
        ...platform,
        conflicts: Object.assign(Object.create(platform.conflicts), { resolve: async () => { throw new Error('The conflict store is down.'); } }),
        telemetry: Object.assign(Object.create(platform.telemetry), { log: (level: string, message: string) => { if (level === 'warn') warnings.push(message); } }),
      } as typeof platform;
      const data = await s.remote(id);
      const applied = await applyPage({
        records: platform.records, scope: s.scope, runId: 'run_flaky', stepId: 'run_flaky:customers:1', mode: 'incremental',
        page: [{ externalId: id, updatedAt: String(data.updated_at), deleted: false, data }], now: new Date().toISOString(), mergePolicy: { default: { kind: 'manual' } },
      });
      await settleParkedPushes(flaky, applied.settledPushes);
      expect(warnings).toEqual([expect.stringMatching(/could not be closed; its conflict stays open/)]);
      expect(await platform.conflicts.get('t1', conflict.id)).toMatchObject({ state: 'open' });
      expect(await platform.outbox.get(conflict.outboxId)).toMatchObject({ state: 'pending', replays: 1 });
      expect(await s.push((await s.local(id))!)).toBe('pushed');
      expect(await s.remote(id)).toMatchObject({ name: 'Local Name', notes: 'only here' });
      const { conflict: resolved, record } = await s.resolver.resolve('t1', conflict.id, { resolution: 'remote' });
      expect(resolved).toMatchObject({ state: 'resolved', resolution: 'remote' });
      expect(record?.pendingPush ?? null).toBeNull();
      expect((await s.local(id))?.data).toEqual(await s.remote(id));
    });

    test('a conflict being resolved (claimed) is left to that resolution', async () => {
      const { s, id, conflict } = await settledByTheProvider(17);
      await platform.conflicts.claim('t1', conflict.id, { by: 'someone', until: new Date(Date.now() + 60_000).toISOString() }, new Date().toISOString());
      await s.pullPage(await s.remote(id));
      expect((await s.local(id))?.data.name).toBe('Local Name'); // the pull settled the name
      expect(await platform.conflicts.get('t1', conflict.id)).toMatchObject({ state: 'open', claim: { by: 'someone' } });
      expect(await platform.outbox.get(conflict.outboxId)).toMatchObject({ state: 'parked' });
    });

    test('"local" keeps the provider\'s newer phone in the record it writes, and pushes only the name', async () => {
      const { s, id, conflict } = await parkedThenMovedOn(12, { phone: '+1 555 000 0012' });
      const { record } = await s.resolver.resolve('t1', conflict.id, { resolution: 'local' });
      expect(record?.data).toMatchObject({ name: 'Local Name', phone: '+1 555 000 0012' });
      expect(await s.push(record!)).toBe('pushed');
      const there = await s.remote(id);
      expect(there).toMatchObject({ name: 'Local Name', phone: '+1 555 000 0012' });
      expect((await s.local(id))?.data).toEqual(there);
    });

    test('"remote" when the provider changed only another field since: local ends equal to the provider, and nothing is sent there (review finding: an update with no fields went out)', async () => {
      const { s, id, conflict } = await parkedThenMovedOn(13, { phone: '+1 555 000 0013' });
      const { record } = await s.resolver.resolve('t1', conflict.id, { resolution: 'remote' });
      expect(record?.data).toMatchObject({ name: 'Remote Name', phone: '+1 555 000 0013' });
      await expectAgreedWithNothingSent(s, id, record!, { name: 'Remote Name', phone: '+1 555 000 0013' });
    });

    test('"remote" after the provider took the local value of one of two fields in conflict keeps that value, which the conflict never showed', async () => {
      const s = await setup();
      const id = cus(14);
      await s.pulled(id);
      await s.changeRemote(id, { name: 'Remote Name', phone: '+1 555 000 1414' });
      const parked = (await s.changes.update(s.scope, id, { name: 'Local Name', phone: '+1 555 000 4141' })).record;
      expect(await s.push(parked)).toBe('parked');
      const [conflict] = (await platform.conflicts.list({ tenantId: 't1', connectionId: s.connectionId, state: 'open', limit: 10 })).conflicts;
      expect([...conflict.fields].sort()).toEqual(['name', 'phone']);
      await s.changeRemote(id, { phone: '+1 555 000 4141' }); // the provider takes the local phone
      await s.pullPage(await s.remote(id));
      const { record } = await s.resolver.resolve('t1', conflict.id, { resolution: 'remote' });
      expect(record?.data).toMatchObject({ name: 'Remote Name', phone: '+1 555 000 4141' });
      if (record?.pendingPush) expect(['pushed', 'merged']).toContain(await s.push(record));
      const there = await s.remote(id);
      expect(there).toMatchObject({ name: 'Remote Name', phone: '+1 555 000 4141' });
      expect((await s.local(id))?.data).toEqual(there);
    });
  });

  test('resolving "remote" when the provider deleted the record deletes it here, pushing nothing', async () => {
    const s = await setup();
    const id = cus(4);
    await s.pulled(id);
    await sandboxRequest('DELETE', `records/customers/${id}`);
    await expect(s.remote(id)).rejects.toThrow(/404/);
    const parked = (await s.changes.update(s.scope, id, { name: 'Local Name' })).record;
    expect(await s.push(parked)).toBe('parked');
    const [conflict] = (await platform.conflicts.list({ tenantId: 't1', connectionId: s.connectionId, state: 'open', limit: 10 })).conflicts;
    expect(conflict.remote).toBeNull();
    const { record } = await s.resolver.resolve('t1', conflict.id, { resolution: 'remote' });
    expect(record).toMatchObject({ deleted: true });
    const stored = await s.local(id);
    expect(stored).toMatchObject({ deleted: true });
    expect(stored?.pendingPush).toBeUndefined();
  });

  test('a replayed dead letter that fails again schedules its retry (a message id of its own, not a duplicate)', async () => {
    const s = await setup();
    const id = cus(5);
    await s.pulled(id);
    const change = (await s.changes.update(s.scope, id, { name: 'Retried' })).record;
    failPushes = new SyncBridgeError('transient', 'The provider is down.');
    expect(await s.push(change)).toBe('retry_scheduled');
    expect(await s.push(change)).toBe('dead');
    await s.resolver.replay('t1', change.pendingPush!.outboxId);
    // Nothing consumes the queue here, so every message sent stays (scheduled, or active once due).
    const messages = () => {
      const depth = platform.queue.depth('sync-outbound');
      return depth.active + depth.scheduled;
    };
    const before = messages();
    expect(await s.push(change)).toBe('retry_scheduled');
    expect(messages()).toBe(before + 1);
  });

  test('a replay closes its own dead letter\'s conflict however many other conflicts are open', async () => {
    const s = await setup();
    const at = '2026-01-01T00:00:00.000Z';
    for (let i = 0; i < 501; i += 1) {
      await platform.conflicts.open({ id: `cfl_other_${s.connectionId}_${i}`, tenantId: 't1', connectionId: s.connectionId, entity: 'customers', externalId: `x${i}`, outboxId: `out_other_${i}`, kind: 'data_mismatch', state: 'open', reason: 'older', base: null, local: {}, remote: {}, fields: [], createdAt: at, updatedAt: at });
    }
    const id = cus(6);
    await s.pulled(id);
    const change = (await s.changes.update(s.scope, id, { name: 'Replayed' })).record;
    failPushes = new SyncBridgeError('transient', 'The provider is down.');
    await s.push(change);
    expect(await s.push(change)).toBe('dead');
    const outboxId = change.pendingPush!.outboxId;
    const conflictId = `cfl_${outboxId.replace(/^out_/, '')}`;
    expect(await platform.conflicts.get('t1', conflictId)).toMatchObject({ state: 'open', kind: 'retry_exhausted' });
    await s.resolver.replay('t1', outboxId);
    expect(await platform.conflicts.get('t1', conflictId)).toMatchObject({ state: 'resolved', resolution: 'replayed' });
  });
});
