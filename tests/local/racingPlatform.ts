import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { AdapterDefinition } from '../../shared/adapters/adapter';
import { AdapterRegistry } from '../../shared/adapters/registry';
import { createServices, type Services } from '../../shared/composition';
import type { EntityMergePolicy } from '../../shared/core/merge';
import type { RecordScope } from '../../shared/core/model';
import type { Platform } from '../../shared/ports/platform';
import type { RecordStore } from '../../shared/ports/recordStore';
import { createAzurePlatform } from '../../shared/platform/azure/azurePlatform';
import type { CosmosDatabase } from '../../shared/platform/azure/cosmos/cosmosDatabase';
import { createLocalPlatform, type LocalPlatform } from '../../shared/platform/local/localPlatform';
import { startSandbox, type RunningSandbox } from '../../sandbox/server';
import { startCosmosServer, type RunningCosmosServer } from '../support/cosmosServer';

/**
 * Races between a read and a write of the record store, driven deterministically: the platform's
 * record store is wrapped so that a hook (a local change, a pull) runs exactly between some
 * caller's read and its write. Used by the push-result and pull-write race suites, each on the
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
    sweepUnseen: (runId, scope, stepId, at) => inner.sweepUnseen(runId, scope, stepId, at),
    clearSeen: (runId) => inner.clearSeen(runId),
  };
}

/**
 * A provider adapter whose pushes run a hook once the provider has accepted them, before the worker
 * records the result (OutboundService.agree): what happens there races the push's result. `next`
 * sets the hook for the next push only.
 */
export function afterProviderWrite(definition: AdapterDefinition): { adapter: AdapterDefinition; next(hook: () => Promise<void>): void; clear(): void } {
  let pending: (() => Promise<void>) | null = null;
  const adapter: AdapterDefinition = {
    ...definition,
    create(context) {
      const inner = definition.create(context);
      return {
        provider: inner.provider,
        listPage: (request) => inner.listPage(request),
        getRecord: (entity, id) => inner.getRecord(entity, id),
        checkHealth: () => inner.checkHealth(),
        push: async (request) => {
          const result = await inner.push!(request);
          const hook = pending;
          pending = null;
          if (hook) await hook();
          return result;
        },
      };
    },
  };
  return {
    adapter,
    next: (hook) => {
      pending = hook;
    },
    clear: () => {
      pending = null;
    },
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
    base = createAzurePlatform({ cosmos, queue: local.queue, secrets: local.secrets, telemetry: local.telemetry });
  }
  const hooks: RaceHooks = { afterStates: [], afterRead: [], afterWrite: [] };
  const platform: Platform = { ...base, records: racing(base.records, hooks) };
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
