import type { Run } from '../core/model';

/**
 * Sync runs and their per-entity checkpoints.
 *
 * Semantics (tests/conformance/runStore.conformance.ts):
 * - `create` stores the run with version 1 (whatever version it is given) and returns it; it fails
 *   with SyncBridgeError('conflict') when the id exists.
 * - `update(run)` succeeds only when the stored version equals `run.version`; it stores the run
 *   with `version + 1` and returns that. A stale version fails with SyncBridgeError('conflict'),
 *   an unknown id with SyncBridgeError('not_found').
 * - `tryStart` moves a queued run to running only while the tenant has fewer than
 *   `maxActivePerTenant` runs in state running or paused, atomically with respect to other
 *   `tryStart` calls; it returns the started run, or undefined when the run must keep waiting
 *   (or is no longer queued). A queued run held by its connection's pause (`pausedBy` set) is
 *   never started, whatever room the tenant has: the check and the start are one atomic step
 *   against `update`, so a hold written before the start keeps the run queued, and a hold written
 *   from a version read before the start fails with `conflict`.
 * - Every field of the run round-trips (e.g. `pausedBy`, `finalizingAt`, `nextStepDueAt`).
 * - Lists are newest first unless they say otherwise.
 */
export interface RunStore {
  create(run: Run): Promise<Run>;
  get(runId: string): Promise<Run | undefined>;
  update(run: Run): Promise<Run>;
  listByConnection(connectionId: string, options?: { limit?: number }): Promise<Run[]>;
  /** Runs of the connection in state queued, running or paused. */
  listOpenByConnection(connectionId: string): Promise<Run[]>;
  /** Queued runs of the tenant, oldest first. */
  listQueued(tenantId: string): Promise<Run[]>;
  /** Running runs of the tenant (not paused ones), oldest first: what the run watchdog checks. */
  listRunning(tenantId: string): Promise<Run[]>;
  countActive(tenantId: string): Promise<number>;
  tryStart(runId: string, maxActivePerTenant: number, startedAt: string): Promise<Run | undefined>;
}
