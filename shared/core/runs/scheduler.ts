import { isSyncBridgeError } from '../errors';
import type { Connection } from '../model';
import { isDue } from '../schedule';
import type { EngineContext } from './engineContext';
import { RunService } from './runService';
import { redriveStalledRuns } from './runWatchdog';
import { allConnections } from '../allConnections';

export interface SchedulerTickResult {
  considered: number;
  started: string[];
  /**
   * Due while a run of the connection is open: the occurrence is kept (lastScheduledAt does not
   * move, so the connection stays due) and its run starts at the first tick after the open run ends.
   */
  waiting: Array<{ connectionId: string; reason: string }>;
  /** Due but not started, for good (the occurrence is spent): a connection that is not active, or one that cannot sync. */
  skipped: Array<{ connectionId: string; reason: string }>;
  /** Due, but the start failed (a store or broker error); reported to telemetry, and retried as described on tick(). */
  failed: Array<{ connectionId: string; reason: string }>;
}

/**
 * One scheduler tick: every connection whose own schedule fired since it was last acted on gets a
 * run (which waits as queued when its tenant is at its limit). Never two runs for one connection:
 * an occurrence that comes due while a run of the connection is open is left unclaimed, so the
 * connection stays due and its run starts at the first tick after the open run ends (a catch-up;
 * however many occurrences passed meanwhile, one run, since "due" is one flag and not a count).
 * The catch-up lives in the connection's lastScheduledAt in the store, so it survives a restart.
 * An occurrence of a connection that is not active (paused, reauthorization_required, error) is
 * spent without a run: such a connection gets no catch-up when it becomes active again, it waits
 * for its next occurrence. Queued runs of every tenant seen are promoted too, so a missed
 * promotion heals on the next tick, and their stalled runs are re-driven (runWatchdog.ts).
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
    const result: SchedulerTickResult = { considered: 0, started: [], waiting: [], skipped: [], failed: [] };
    const tenants = new Set<string>();
    // Tenants whose queued runs a start of this tick promoted already (startRun ends with a promotion).
    const promoted = new Set<string>();
    for await (const connection of allConnections(platform.connections)) {
      result.considered += 1;
      tenants.add(connection.tenantId);
      if (!isDue(connection.schedule, lastActed(connection), now)) continue;
      if (connection.status !== 'active') await this.dropOccurrence(connection, now, result);
      else {
        const outcome = await this.startScheduled(connection, now, result);
        // A failed start may have left a run queued again (its first step refused): the tick-end promotion retries it.
        if (outcome === 'started') promoted.add(connection.tenantId);
        else if (outcome === 'failed') promoted.delete(connection.tenantId);
      }
    }
    // Runs left running with no step to move them: re-sent, or failed, which frees slots promoted below.
    await redriveStalledRuns(this.context, tenants).catch((error) => platform.telemetry.exception(error, { operation: 'scheduler.runWatchdog' }));
    for (const tenantId of tenants) {
      // Promoted this tick by a start; a slot freed since (a run ended, the watchdog failed one) was promoted by what freed it.
      if (promoted.has(tenantId)) continue;
      try {
        await this.runs.promoteQueued(tenantId);
      } catch (error) {
        platform.telemetry.exception(error, { operation: 'scheduler.promoteQueued', tenantId });
      }
    }
    return result;
  }

  /** `started`: a run was started, and its tenant's queued runs promoted; `failed`: listed in the tick's failed. */
  private async startScheduled(connection: Connection, now: Date, result: SchedulerTickResult): Promise<'started' | 'failed' | undefined> {
    const { platform } = this.context;
    let claimed: Connection | undefined;
    try {
      // Checked before claiming, so that a waiting occurrence costs one read per tick and no write.
      const [open] = await platform.runs.listOpenByConnection(connection.id);
      if (open) {
        result.waiting.push({ connectionId: connection.id, reason: waitingFor(open.id, open.state) });
        return undefined;
      }
      claimed = await this.claimOccurrence(connection.id, now);
      if (!claimed) return undefined; // another scheduler instance took this occurrence, or it is no longer due
      if (claimed.status !== 'active') {
        // Parked between the scan and the claim: the occurrence is spent, as for any inactive connection.
        result.skipped.push({ connectionId: connection.id, reason: notActive(claimed) });
        return undefined;
      }
      const run = await this.runs.startRun({ connection: claimed, mode: claimed.schedule.mode, trigger: 'schedule' });
      result.started.push(run.id);
      return 'started';
    } catch (error) {
      if (isSyncBridgeError(error, 'validation')) {
        result.skipped.push({ connectionId: connection.id, reason: error.message });
        return undefined;
      }
      if (claimed && isSyncBridgeError(error, 'conflict')) {
        // A run was opened between the check above and the start (an API start, another
        // instance), or the connection was parked meanwhile: the occurrence goes back, so it is
        // caught up once that run ends (or dropped by the next tick if the connection is parked).
        result.waiting.push({ connectionId: connection.id, reason: error.message });
        await this.giveBack(claimed, connection.lastScheduledAt, now);
        return undefined;
      }
      const reason = error instanceof Error ? error.message : String(error);
      result.failed.push({ connectionId: connection.id, reason });
      platform.telemetry.exception(error, { operation: 'scheduler.startRun', connectionId: connection.id, tenantId: connection.tenantId });
      if (claimed) await this.giveBackIfNoRun(claimed, connection.lastScheduledAt, now);
      return 'failed';
    }
  }

  /**
   * A due occurrence of a connection that is not active is spent without a run, so that it does
   * not come back as a catch-up when the connection is active again. A failure only leaves the
   * occurrence due: the next tick drops it (or starts it, if the connection is active by then).
   */
  private async dropOccurrence(connection: Connection, now: Date, result: SchedulerTickResult): Promise<void> {
    const { platform } = this.context;
    try {
      const claimed = await this.claimOccurrence(connection.id, now);
      if (!claimed) return;
      if (claimed.status === 'active') {
        // Reactivated between the scan and the claim: the occurrence goes back, the next tick starts it.
        await this.giveBack(claimed, connection.lastScheduledAt, now);
        return;
      }
      result.skipped.push({ connectionId: connection.id, reason: notActive(claimed) });
    } catch (error) {
      platform.telemetry.exception(error, { operation: 'scheduler.dropOccurrence', connectionId: connection.id, tenantId: connection.tenantId });
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
    if (!fresh || !isDue(fresh.schedule, lastActed(fresh), now)) return undefined;
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
    try {
      if ((await platform.runs.listOpenByConnection(claimed.id)).length > 0) return;
    } catch (error) {
      platform.telemetry.exception(error, { operation: 'scheduler.giveBackOccurrence', connectionId: claimed.id });
      return;
    }
    await this.giveBack(claimed, previous, now);
  }

  /**
   * Sets lastScheduledAt back to what it was before this tick's claim, unless something else
   * acted on the connection since. On failure the occurrence stays spent (reported to telemetry).
   */
  private async giveBack(claimed: Connection, previous: string | undefined, now: Date): Promise<void> {
    const { platform } = this.context;
    const stamp = now.toISOString();
    try {
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

function waitingFor(runId: string, state: string): string {
  return `Run ${runId} of the connection is ${state}: this occurrence starts its run at the first tick after that run ends.`;
}

function notActive(connection: Connection): string {
  return `Connection ${connection.id} is ${connection.status}: this occurrence is dropped, and none is caught up when it is active again.`;
}

/** When the scheduler last acted on the connection; a never-scheduled one counts from its creation. */
function lastActed(connection: Connection): Date {
  return new Date(connection.lastScheduledAt ?? connection.createdAt);
}
