import { sandboxProvider } from '../../shared/adapters/providers/sandbox';
import type { SyncRecord } from '../../shared/core/model';
import { ConflictResolver, RESOLVE_CLAIM_MS } from '../../shared/core/outbound/conflictResolution';
import { LocalChangeService } from '../../shared/core/outbound/localChanges';
import { OutboundService } from '../../shared/core/outbound/outboundService';
import type { Conflict, ConflictStore } from '../../shared/ports/conflictStore';
import { ApiClient } from '../support/apiClient';
import { expectSyncBridgeError } from '../conformance/fixtures';
import { deliverPush, storePulled } from './helpers';
import { signal, startRacePlatform, type RacePlatform } from './racingPlatform';

/**
 * Two resolutions of one conflict at once (two operators, or a double click). Each claims the
 * conflict before it touches the record, so only one writes and pushes; the other answers
 * `conflict` having changed nothing. The interleavings are driven by the race platform's hooks: a
 * resolution is held right after its read of the conflict, or right after its read of the record.
 * On the SQLite stores and on the Cosmos DB stores (@vercel/cosmosdb-server), against the sandbox.
 */
describe.each(['SQLite', 'Cosmos DB'] as const)('two resolutions of one conflict at once (%s)', (store) => {
  let race: RacePlatform;
  let connections = 0;
  const cus = (n: number) => `cus_${String(n).padStart(7, '0')}`;

  beforeAll(async () => {
    race = await startRacePlatform(store, [sandboxProvider]);
  });
  afterAll(async () => race.close());
  afterEach(() => race.clearHooks());

  /** A parked data_mismatch on `id`: name changed to "Remote Name" there and "Local Name" here. */
  async function parkedConflict(id: string) {
    const { platform, services, sandbox } = race;
    const scope = await race.twoWayConnection(`resolve${(connections += 1)}`, { default: { kind: 'manual' } });
    const changes = new LocalChangeService(platform);
    const outbound = new OutboundService(platform, services.adapters, { retry: { initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 3 }, random: () => 0.5 });
    const provider = (method: string, path: string, body?: unknown): Promise<any> => new ApiClient('', sandbox.url, '').sandbox(method, path, body);
    await storePulled(platform.records, scope, id, await provider('GET', `records/customers/${id}`));
    await provider('PATCH', `records/customers/${id}`, { name: 'Remote Name' });
    const parked = (await changes.update(scope, id, { name: 'Local Name' })).record;
    expect(await deliverPush(platform.outbox, outbound, parked)).toBe('parked');
    const [conflict] = (await platform.conflicts.list({ tenantId: 't1', connectionId: scope.connectionId, state: 'open', limit: 10 })).conflicts;
    return {
      conflict,
      resolver: new ConflictResolver(platform, changes),
      stored: () => race.records.get(scope, id),
      remote: () => provider('GET', `records/customers/${id}`),
      push: (record: SyncRecord) => deliverPush(platform.outbox, outbound, record),
      conflictNow: () => platform.conflicts.get('t1', conflict.id) as Promise<Conflict>,
    };
  }

  /** A resolver whose conflict store's `resolve` is `resolve` (given the real one), everything else as it is. */
  function resolverWithResolve(resolve: (real: ConflictStore['resolve'], ...args: Parameters<ConflictStore['resolve']>) => Promise<Conflict>): ConflictResolver {
    const { platform } = race;
    const conflicts = Object.assign(Object.create(platform.conflicts), { resolve: (...args: Parameters<ConflictStore['resolve']>) => resolve(platform.conflicts.resolve.bind(platform.conflicts), ...args) });
    const wrapped = { ...platform, conflicts } as typeof platform;
    return new ConflictResolver(wrapped, new LocalChangeService(wrapped));
  }

  test('a resolution whose push message the queue refuses is resolved all the same, and the relay sends its push', async () => {
    const s = await parkedConflict(cus(9));
    const { platform } = race;
    let refused = 0;
    const flaky = { ...platform, queue: { ...platform.queue, send: async (queue: any, messages: any) => {
      if (refused === 0) {
        refused += 1;
        throw new Error('The queue is down.');
      }
      return platform.queue.send(queue, messages);
    } } } as typeof platform;
    const resolver = new ConflictResolver(flaky, new LocalChangeService(flaky));
    const { conflict, record } = await resolver.resolve('t1', s.conflict.id, { resolution: 'local' });
    expect(refused).toBe(1);
    expect(conflict).toMatchObject({ state: 'resolved', resolution: 'local' });
    expect(await s.conflictNow()).toMatchObject({ state: 'resolved', resolution: 'local' });
    // A second resolution finds it resolved, instead of acting on the first one's result.
    await expectSyncBridgeError(s.resolver.resolve('t1', s.conflict.id, { resolution: 'remote' }), 'conflict');
    expect(await new LocalChangeService(platform).relayPending(undefined, { idleForMs: 0 })).toBeGreaterThanOrEqual(1);
    expect(await s.push(record!)).toBe('pushed');
    expect(await s.remote()).toMatchObject({ name: 'Local Name' });
  });

  test('marking the conflict resolved, failing after the record was written, is tried again: the resolution answers once it holds (review finding: it stayed open with the decision stored)', async () => {
    const s = await parkedConflict(cus(10));
    let failures = 2;
    const resolver = resolverWithResolve(async (real, ...args) => {
      if (failures > 0) {
        failures -= 1;
        throw new Error('The conflict store is briefly unavailable.');
      }
      return real(...args);
    });
    const { conflict, record } = await resolver.resolve('t1', s.conflict.id, { resolution: 'local' });
    expect(failures).toBe(0);
    expect(conflict).toMatchObject({ state: 'resolved', resolution: 'local' });
    expect((await s.conflictNow()).claim ?? null).toBeNull();
    expect(await s.push(record!)).toBe('pushed');
    expect(await s.remote()).toMatchObject({ name: 'Local Name' });
  });

  test('marking the conflict resolved, stored although its answer was lost, is not taken for another resolution on the next try (review finding: a spurious 409)', async () => {
    const s = await parkedConflict(cus(12));
    let lost = 1;
    const resolver = resolverWithResolve(async (real, ...args) => {
      const resolved = await real(...args);
      if (lost > 0) {
        lost -= 1;
        throw new Error('The answer was lost (timeout).');
      }
      return resolved;
    });
    const { conflict } = await resolver.resolve('t1', s.conflict.id, { resolution: 'local' });
    expect(lost).toBe(0);
    expect(conflict).toMatchObject({ state: 'resolved', resolution: 'local' });
  });

  test('marking the conflict resolved failing every time answers transient, saying the decision is stored and until when the claim holds', async () => {
    const s = await parkedConflict(cus(11));
    let tries = 0;
    const resolver = resolverWithResolve(async () => {
      tries += 1;
      throw new Error('The conflict store is down.');
    });
    const error = await resolver.resolve('t1', s.conflict.id, { resolution: 'local' }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'transient', message: expect.stringMatching(/"local" decision is stored .*failed 4 times: The conflict store is down\..*claimed until \d{4}-/) });
    expect(tries).toBe(4);
    const now = await s.conflictNow();
    expect(now).toMatchObject({ state: 'open', claim: { until: expect.any(String) } });
    expect((error as Error).message).toContain(now.claim!.until);
    expect((await s.stored())?.data.name).toBe('Local Name'); // the decision, stored
  });

  test('the one that read the conflict open before the other resolved it writes and pushes nothing, and answers conflict', async () => {
    const s = await parkedConflict(cus(1));
    const bRead = signal();
    const aDone = signal();
    race.hooks.afterConflictRead.push(async () => {
      bRead.fire();
      await aDone.promise;
    });
    const b = s.resolver.resolve('t1', s.conflict.id, { resolution: 'custom', data: { name: 'Custom by B' } });
    b.catch(() => undefined); // checked below, once A is done
    await bRead.promise;
    const a = await s.resolver.resolve('t1', s.conflict.id, { resolution: 'local' });
    aDone.fire();
    await expectSyncBridgeError(b, 'conflict');

    const after = await s.stored();
    expect(after?.data).toMatchObject({ name: 'Local Name' });
    expect(after?.version).toBe(a.record!.version);
    expect(after?.pendingPush?.outboxId).toBe(a.record!.pendingPush!.outboxId);
    expect(await s.push(after!)).toBe('pushed');
    expect(await s.remote()).toMatchObject({ name: 'Local Name' });
    expect(await s.conflictNow()).toMatchObject({ state: 'resolved', resolution: 'local' });
  });

  test('the one that claimed first wins even when the other would write the record first', async () => {
    const s = await parkedConflict(cus(2));
    let b: Promise<unknown> | undefined;
    // A holds the claim and has read the record; B comes in now and runs to its end.
    race.hooks.afterRead.push(async () => {
      b = s.resolver.resolve('t1', s.conflict.id, { resolution: 'custom', data: { name: 'Custom by B' } });
      await b.catch(() => undefined);
    });
    const a = await s.resolver.resolve('t1', s.conflict.id, { resolution: 'local' });
    await expectSyncBridgeError(b!, 'conflict');
    expect(a.conflict).toMatchObject({ state: 'resolved', resolution: 'local' });
    expect((await s.stored())?.data).toMatchObject({ name: 'Local Name' });
    expect((await s.conflictNow()).claim ?? null).toBeNull();
  });

  test('a claim left by a resolver that died holds the conflict until it expires, then the next resolution goes through', async () => {
    const s = await parkedConflict(cus(3));
    const now = race.platform.clock.now().getTime();
    const before = await s.stored();
    await race.platform.conflicts.claim('t1', s.conflict.id, { by: 'died', until: new Date(now + RESOLVE_CLAIM_MS).toISOString() }, new Date(now).toISOString());
    await expectSyncBridgeError(s.resolver.resolve('t1', s.conflict.id, { resolution: 'local' }), 'conflict');
    expect(await s.stored()).toEqual(before);
    // The same claim, expired: as it reads once RESOLVE_CLAIM_MS have passed.
    await race.platform.conflicts.claim('t1', s.conflict.id, { by: 'died', until: new Date(now - 1).toISOString() }, new Date(now - RESOLVE_CLAIM_MS).toISOString());
    const resolved = await s.resolver.resolve('t1', s.conflict.id, { resolution: 'local' });
    expect(resolved.conflict).toMatchObject({ state: 'resolved', resolution: 'local' });
    expect(resolved.conflict.claim ?? null).toBeNull();
    expect((await s.stored())?.pendingPush?.outboxId).toBe(resolved.record!.pendingPush!.outboxId);
  });

  test('a resolution refused after its claim (the record changed meanwhile) releases it: the next one need not wait', async () => {
    const s = await parkedConflict(cus(4));
    race.hooks.afterRead.push(async () => {
      await new LocalChangeService(race.platform).update({ tenantId: 't1', connectionId: s.conflict.connectionId, entity: 'customers' }, cus(4), { notes: 'edited mid-resolve' });
    });
    await expectSyncBridgeError(s.resolver.resolve('t1', s.conflict.id, { resolution: 'local' }), 'conflict');
    const open = await s.conflictNow();
    expect(open.state).toBe('open');
    expect(open.claim ?? null).toBeNull();
    const again = await s.resolver.resolve('t1', s.conflict.id, { resolution: 'local' });
    expect(again.conflict).toMatchObject({ state: 'resolved', resolution: 'local' });
    expect((await s.stored())?.data).toMatchObject({ name: 'Local Name', notes: 'edited mid-resolve' });
  });
});
