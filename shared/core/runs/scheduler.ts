import { isSyncBridgeError } from '../errors';
import type { Connection } from '../model';
import { isDue } from '../schedule';
import type { EngineContext } from './engineContext';
import { RunService } from './runService';
import { redriveStalledRuns } from './runWatchdog';

export interface SchedulerTickResult {
  considered: number;
  started: string[];
  /** Due but not started, for good: an open run (this occurrence is spent) or a connection that cannot sync. */
  skipped: Array<{ connectionId: string; reason: string }>;
  /** Due, but the start failed (a store or broker error); reported to telemetry, and retried as described on tick(). */
  failed: Array<{ connectionId: string; reason: string }>;
}

/**
 * One scheduler tick: every connection whose own schedule fired since it was last acted on gets a
 * run (which waits as queued when its tenant is at its limit). A connection with an open run is
 * skipped for this occurrence: never two runs for one connection. Queued runs of every tenant
 * seen are promoted too, so a missed promotion heals on the next tick, and their stalled runs are
 * re-driven (runWatchdog.ts).
 *
 * One connection's failure never stops the tick: the error goes to telemetry and the tick goes on
 * with the next connection. If the start failed before a run existed, the occurrence is given back
 * and the next tick tries again; once a run exists, the occurrence is spent (that run carries it).
 */
export class Scheduler {
  private readonly runs: RunService;

  constructor(private readonly context: EngineContext) {
    this.runs = new RunService(context);
  }

  async tick(): Promise<SchedulerTickResult> {
    const { platform } = this.context;
    const now = platform.clock.now();
    const result: SchedulerTickResult = { considered: 0, started: [], skipped: [], failed: [] };
    const tenants = new Set<string>();
    let afterId: string | undefined;
    for (;;) {
      const page = await platform.connections.listAll({ afterId, limit: 200 });
      if (page.length === 0) break;
      afterId = page[page.length - 1].id;
      for (const connection of page) {
        result.considered += 1;
        tenants.add(connection.tenantId);
        if (connection.status !== 'active') continue;
        if (!isDue(connection.schedule, lastActed(connection), now)) continue;
        await this.startScheduled(connection, now, result);
      }
    }
    // Runs left running with no step to move them: re-sent, or failed, which frees slots promoted below.
    await redriveStalledRuns(this.context, tenants).catch((error) => platform.telemetry.exception(error, { operation: 'scheduler.runWatchdog' }));
    for (const tenantId of tenants) {
      try {
        await this.runs.promoteQueued(tenantId);
      } catch (error) {
        platform.telemetry.exception(error, { operation: 'scheduler.promoteQueued', tenantId });
      }
    }
    return result;
  }

  private async startScheduled(connection: Connection, now: Date, result: SchedulerTickResult): Promise<void> {
    const { platform } = this.context;
    let claimed: Connection | undefined;
    try {
      claimed = await this.claimOccurrence(connection.id, now);
      if (!claimed) return; // another scheduler instance took this occurrence, or it is no longer due
      const run = await this.runs.startRun({ connection: claimed, mode: claimed.schedule.mode, trigger: 'schedule' });
      result.started.push(run.id);
    } catch (error) {
      if (isSyncBridgeError(error, 'conflict') || isSyncBridgeError(error, 'validation')) {
        result.skipped.push({ connectionId: connection.id, reason: error.message });
        return;
      }
      const reason = error instanceof Error ? error.message : String(error);
      result.failed.push({ connectionId: connection.id, reason });
      platform.telemetry.exception(error, { operation: 'scheduler.startRun', connectionId: connection.id, tenantId: connection.tenantId });
      if (claimed) await this.giveBackIfNoRun(claimed, connection.lastScheduledAt, now);
    }
  }

  /**
   * Records that this occurrence was acted on before starting, so a crash cannot start it twice.
   * The write is optimistic on the connection's version and re-checks the schedule on the fresh
   * copy, so of two scheduler instances racing for one occurrence only one gets it.
   */
  private async claimOccurrence(connectionId: string, now: Date): Promise<Connection | undefined> {
    const { platform } = this.context;
    const fresh = await platform.connections.get(connectionId);
    if (!fresh || fresh.status !== 'active' || !isDue(fresh.schedule, lastActed(fresh), now)) return undefined;
    try {
      return await platform.connections.update({ ...fresh, lastScheduledAt: now.toISOString(), updatedAt: now.toISOString() });
    } catch (error) {
      if (isSyncBridgeError(error, 'conflict')) return undefined; // changed meanwhile; still due next tick if nobody took it
      throw error;
    }
  }

  /**
   * After a failed start: if no run exists for the connection, nothing carries this occurrence,
   * so lastScheduledAt goes back to what it was and the next tick starts it. With an open run (the
   * start got as far as creating it) the occurrence stays spent: a new run could not start anyway.
   */
  private async giveBackIfNoRun(claimed: Connection, previous: string | undefined, now: Date): Promise<void> {
    const { platform } = this.context;
    const stamp = now.toISOString();
    try {
      if ((await platform.runs.listOpenByConnection(claimed.id)).length > 0) return;
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const fresh = await platform.connections.get(claimed.id);
        if (!fresh || fresh.lastScheduledAt !== stamp) return; // someone acted on it since
        try {
          await platform.connections.update({ ...fresh, lastScheduledAt: previous });
          return;
        } catch (error) {
          if (!isSyncBridgeError(error, 'conflict')) throw error;
        }
      }
    } catch (error) {
      // The occurrence stays spent; the connection's next occurrence starts normally.
      platform.telemetry.exception(error, { operation: 'scheduler.giveBackOccurrence', connectionId: claimed.id });
    }
  }
}

/** When the scheduler last acted on the connection; a never-scheduled one counts from its creation. */
function lastActed(connection: Connection): Date {
  return new Date(connection.lastScheduledAt ?? connection.createdAt);
}
