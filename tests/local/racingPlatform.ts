import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { AdapterDefinition, ProviderRecord } from '../../shared/adapters/adapter';
import { AdapterRegistry } from '../../shared/adapters/registry';
import { createServices, type Services } from '../../shared/composition';
import { SyncBridgeError } from '../../shared/core/errors';
import type { EntityMergePolicy } from '../../shared/core/merge';
import type { RecordScope } from '../../shared/core/model';
import type { Platform } from '../../shared/ports/platform';
import type { ConflictStore } from '../../shared/ports/conflictStore';
import type { RecordStore } from '../../shared/ports/recordStore';
import { createAzurePlatform } from '../../shared/platform/azure/azurePlatform';
import type { CosmosDatabase } from '../../shared/platform/azure/cosmos/cosmosDatabase';
import { createLocalPlatform, type LocalPlatform } from '../../shared/platform/local/localPlatform';
import { startSandbox, type RunningSandbox } from '../../sandbox/server';
import { startCosmosServer, type RunningCosmosServer } from '../support/cosmosServer';

/**
 * Races between a read and a write of the record store, driven deterministically: the platform's
 * record store (and its conflict store's reads) is wrapped so that a hook (a local change, a pull,
 * another resolution) runs exactly between some caller's read and its write. Used by the push-result and pull-write race suites, each on the
 * SQLite stores and on the Cosmos DB stores (@vercel/cosmosdb-server), against the real sandbox.
 */

/** Hooks on the platform's record store: each runs once, in order. */
export interface RaceHooks {
  /** Run after the next `getStates` (the pull pipeline's read of a page) has read, before it returns. */
  afterStates: Array<() => Promise<void>>;
  /** Run after the next record read (get or getWithRevision) has read, before it returns. */
  afterRead: Array<() => Promise<void>>;
  /** Run after the next `RecordStore.write` has written. */
  afterWrite: Array<() => void>;
  /** Run after the next `ConflictStore.get` (a resolution's first read of its conflict) has read, before it returns. */
  afterConflictRead: Array<() => Promise<void>>;
}

export function racing(inner: RecordStore, hooks: RaceHooks): RecordStore {
  const after = async <T>(queue: Array<() => Promise<void>>, read: T): Promise<T> => {
    const hook = queue.shift();
    if (hook) await hook();
    return read;
  };
  return {
    getStates: async (scope, ids) => after(hooks.afterStates, await inner.getStates(scope, ids)),
    write: async (records) => {
      await inner.write(records);
      hooks.afterWrite.shift()?.();
    },
    get: async (scope, externalId) => after(hooks.afterRead, await inner.get(scope, externalId)),
    getWithRevision: async (scope, externalId) => after(hooks.afterRead, await inner.getWithRevision(scope, externalId)),
    list: (query) => inner.list(query),
    count: (scope, options) => inner.count(scope, options),
    markSeen: (runId, scope, ids) => inner.markSeen(runId, scope, ids),
    sweepUnseen: (runId, scope, stepId, at, writtenBefore) => inner.sweepUnseen(runId, scope, stepId, at, writtenBefore),
    clearSeen: (runId) => inner.clearSeen(runId),
  };
}

/** The conflict store with `afterConflictRead` run between a `get`'s read and its return. */
export function racingConflicts(inner: ConflictStore, hooks: Pick<RaceHooks, 'afterConflictRead'>): ConflictStore {
  return {
    open: (conflict) => inner.open(conflict),
    get: async (tenantId, id) => {
      const read = await inner.get(tenantId, id);
      await hooks.afterConflictRead.shift()?.();
      return read;
    },
    list: (query) => inner.list(query),
    resolve: (tenantId, id, resolution, at, options) => inner.resolve(tenantId, id, resolution, at, options),
    claim: (tenantId, id, claim, at) => inner.claim(tenantId, id, claim, at),
    release: (tenantId, id, by) => inner.release(tenantId, id, by),
    stats: (tenantId) => inner.stats(tenantId),
  };
}

/** What a test can make the provider adapter of `leveredAdapter` do; each push lever acts once. */
export interface AdapterLevers {
  /** The provider commits the next push, but its answer is lost (a 504 after the commit). */
  loseNextPushResponse: boolean;
  /** A read of a record the provider does not have answers 410 Gone instead of null (404). */
  gone410: boolean;
  /** Records a read does not find (a 404 that is not the provider's last word). */
  hidden: Set<string>;
  /** Runs before the next push reaches the provider. */
  beforePush: null | (() => Promise<void>);
  /** Runs once the provider accepted the next push, before the worker records the result (agree). */
  afterPush: null | ((record: ProviderRecord | null) => Promise<void>);
}

/**
 * The provider adapter with levers a test pulls to stage a race or a provider's odd answer: hooks
 * around the next push (what runs after the provider accepted it races the push's result), a lost
 * answer, 410 Gone and records hidden from a read.
 */
export function leveredAdapter(definition: AdapterDefinition): { adapter: AdapterDefinition; levers: AdapterLevers; reset(): void } {
  const levers: AdapterLevers = { loseNextPushResponse: false, gone410: false, hidden: new Set(), beforePush: null, afterPush: null };
  const take = <K extends 'beforePush' | 'afterPush'>(key: K): AdapterLevers[K] => {
    const hook = levers[key];
    levers[key] = null;
    return hook;
  };
  const adapter: AdapterDefinition = {
    ...definition,
    create(context) {
      const inner = definition.create(context);
      return {
        provider: inner.provider,
        listPage: (request) => inner.listPage(request),
        getRecord: async (entity, id) => {
          const found = levers.hidden.has(id) ? null : await inner.getRecord(entity, id);
          if (found === null && levers.gone410) throw new SyncBridgeError('provider_rejected', `GET ${entity}/${id}: 410 Gone`, { status: 410 });
          return found;
        },
        checkHealth: () => inner.checkHealth(),
        push: async (request) => {
          await take('beforePush')?.();
          const result = await inner.push!(request);
          await take('afterPush')?.(result.record);
          if (levers.loseNextPushResponse) {
            levers.loseNextPushResponse = false;
            throw new SyncBridgeError('transient', 'Provider timed out (504) after committing', { status: 504 });
          }
          return result;
        },
      };
    },
  };
  const reset = () => {
    Object.assign(levers, { loseNextPushResponse: false, gone410: false, beforePush: null, afterPush: null });
    levers.hidden.clear();
  };
  return { adapter, levers, reset };
}

/**
 * `leveredAdapter` reduced to one lever: `next` sets a hook that runs once the provider accepted
 * the next push, before the worker records the result (OutboundService.agree).
 */
export function afterProviderWrite(definition: AdapterDefinition): { adapter: AdapterDefinition; next(hook: () => Promise<void>): void; clear(): void } {
  const { adapter, levers, reset } = leveredAdapter(definition);
  return {
    adapter,
    next: (hook) => {
      levers.afterPush = () => hook();
    },
    clear: reset,
  };
}

/** A promise and the function that settles it. */
export function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

export type RaceStore = 'SQLite' | 'Cosmos DB';

export interface RacePlatform {
  sandbox: RunningSandbox;
  /** The platform whose record store runs the hooks. */
  platform: Platform;
  /** The record store without the hooks. */
  records: RecordStore;
  hooks: RaceHooks;
  services: Services;
  /**
   * A two-way sandbox connection of tenant `t1` on customers (`mergePolicy` for customers when
   * given), created through the services; answers the customers scope.
   */
  twoWayConnection(id: string, mergePolicy?: EntityMergePolicy): Promise<RecordScope>;
  /** Forgets hooks a test left unused. */
  clearHooks(): void;
  close(): Promise<void>;
}

/**
 * The sandbox, tenant `t1`, and a platform on `store`: SQLite, or every store on Cosmos DB with
 * the queue, secrets and telemetry kept local (they play no part in these races).
 */
export async function startRacePlatform(store: RaceStore, adapters: AdapterDefinition[], options: { recordsPerEntity?: number } = {}): Promise<RacePlatform> {
  const sandbox = await startSandbox({ port: 0, recordsPerEntity: options.recordsPerEntity ?? 30 });
  const dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-race-'));
  const local: LocalPlatform = createLocalPlatform({ dataDir, telemetrySink: new PassThrough().resume(), checkpointIntervalMs: 0 });
  let cosmosServer: RunningCosmosServer | undefined;
  let cosmos: CosmosDatabase | undefined;
  let base: Platform = local;
  if (store === 'Cosmos DB') {
    cosmosServer = await startCosmosServer();
    cosmos = await cosmosServer.freshDatabase();
    // These tests read records back with `list` straight after the race: no settled horizon.
    base = createAzurePlatform({ cosmos, queue: local.queue, secrets: local.secrets, telemetry: local.telemetry, recordsFeedHorizonMs: 0 });
  }
  const hooks: RaceHooks = { afterStates: [], afterRead: [], afterWrite: [], afterConflictRead: [] };
  const platform: Platform = { ...base, records: racing(base.records, hooks), conflicts: racingConflicts(base.conflicts, hooks) };
  const services = createServices(platform, { adapters: new AdapterRegistry(adapters) });
  await services.tenants.ensureTenant('t1', 'Tenant one');
  return {
    sandbox,
    platform,
    records: base.records,
    hooks,
    services,
    async twoWayConnection(id, mergePolicy) {
      await services.connections.create({
        tenantId: 't1',
        id,
        provider: 'sandbox',
        config: { baseUrl: sandbox.url, ...(mergePolicy ? { mergePolicy: { customers: mergePolicy } } : {}) },
        credentials: { type: 'apiKey', apiKey: sandbox.apiKey },
        entities: [{ name: 'customers', direction: 'both' }],
      });
      return { tenantId: 't1', connectionId: id, entity: 'customers' };
    },
    clearHooks() {
      hooks.afterStates.length = 0;
      hooks.afterRead.length = 0;
      hooks.afterWrite.length = 0;
      hooks.afterConflictRead.length = 0;
    },
    async close() {
      cosmos?.dispose();
      await cosmosServer?.close();
      await local.close();
      await sandbox.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
