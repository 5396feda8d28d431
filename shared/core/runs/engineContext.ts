import type { AdapterRegistry } from '../../adapters/registry';
import type { Platform } from '../../ports/platform';
import { SyncBridgeError, isSyncBridgeError } from '../errors';
import type { Run } from '../model';
import { PagePrefetcher } from './pagePrefetcher';
import { retryPolicy, type RetryPolicy, type RetryPolicyOptions } from './retryPolicy';
import { CustomMergeRules } from '../merge';

export interface SyncEngineOptions {
  /** Runs a tenant may have running or paused at once, when the tenant sets none. Default 5. */
  maxActiveRunsPerTenant?: number;
  /** Incremental reads start this many seconds before the stored high-water mark. Default 1. */
  lookbackSeconds?: number;
  retry?: RetryPolicyOptions;
  /** Source of jitter; tests pass a fixed one. Default Math.random. */
  random?: () => number;
  /** Fetch the next page while the current one is processed. Default true. */
  prefetch?: boolean;
  /**
   * Consecutive pages of one entity with no records but a next cursor before the run fails: a
   * provider whose cursors go round in a circle would otherwise be listed forever. Default 20.
   */
  maxEmptyPages?: number;
  /**
   * How long past its due time (Run.nextStepDueAt, else updatedAt) a running run may sit before the
   * watchdog re-sends its next step (runWatchdog.ts). Twice Azure's functionTimeout (10 min), so a
   * step still at work is never taken for a lost one. Default 20 minutes.
   */
  stalledRunGraceMs?: number;
  /** Re-sends of a stalled run's next step, with no progress between them, before the run fails. Default 3. */
  maxRedrives?: number;
}

/** Everything the run service and the step runner share, built once per process. */
export interface EngineContext {
  platform: Platform;
  adapters: AdapterRegistry;
  maxActiveRunsPerTenant: number;
  lookbackSeconds: number;
  maxEmptyPages: number;
  stalledRunGraceMs: number;
  maxRedrives: number;
  retry: RetryPolicy;
  random: () => number;
  /** Read-ahead of next pages; undefined when switched off. */
  prefetcher?: PagePrefetcher;
  /** Custom merge rules named by connections' merge policies (pull-side merges use them too). */
  customRules: CustomMergeRules;
}

export function createEngineContext(platform: Platform, adapters: AdapterRegistry, options: SyncEngineOptions = {}, customRules: CustomMergeRules = new CustomMergeRules()): EngineContext {
  const maxActive = options.maxActiveRunsPerTenant ?? 5;
  if (!Number.isInteger(maxActive) || maxActive < 1) {
    throw new SyncBridgeError('configuration', 'maxActiveRunsPerTenant must be a whole number of at least 1.');
  }
  const lookbackSeconds = options.lookbackSeconds ?? 1;
  if (!(lookbackSeconds >= 0)) throw new SyncBridgeError('configuration', 'lookbackSeconds must be zero or more.');
  const maxEmptyPages = options.maxEmptyPages ?? 20;
  if (!Number.isInteger(maxEmptyPages) || maxEmptyPages < 1) throw new SyncBridgeError('configuration', 'maxEmptyPages must be a whole number of at least 1.');
  const stalledRunGraceMs = options.stalledRunGraceMs ?? 20 * 60_000;
  if (!(stalledRunGraceMs > 0)) throw new SyncBridgeError('configuration', 'stalledRunGraceMs must be a positive number of milliseconds.');
  const maxRedrives = options.maxRedrives ?? 3;
  if (!Number.isInteger(maxRedrives) || maxRedrives < 0) throw new SyncBridgeError('configuration', 'maxRedrives must be a whole number of at least 0.');
  return {
    platform,
    adapters,
    maxActiveRunsPerTenant: maxActive,
    lookbackSeconds,
    maxEmptyPages,
    stalledRunGraceMs,
    maxRedrives,
    retry: retryPolicy(options.retry),
    random: options.random ?? Math.random,
    customRules,
    prefetcher: options.prefetch === false ? undefined : new PagePrefetcher(),
  };
}

/**
 * Read-modify-write of a run under optimistic concurrency. `change` returns the new run, or
 * undefined to leave it alone; it is called again on a fresh copy when another writer won.
 */
export async function mutateRun(context: EngineContext, runId: string, change: (run: Run) => Run | undefined): Promise<Run | undefined> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const current = await context.platform.runs.get(runId);
    if (!current) return undefined;
    const next = change(structuredClone(current));
    if (!next) return current;
    try {
      return await context.platform.runs.update(next);
    } catch (error) {
      if (!isSyncBridgeError(error, 'conflict')) throw error;
    }
  }
  throw new SyncBridgeError('conflict', `Run ${runId} kept changing under us; gave up after 20 attempts.`);
}
