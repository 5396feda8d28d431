import { isSyncBridgeError } from '../errors';
import type { Connection } from '../model';
import { isDue } from '../schedule';
import type { EngineContext } from './engineContext';
import { RunService } from './runService';

export interface SchedulerTickResult {
  considered: number;
  started: string[];
  skipped: Array<{ connectionId: string; reason: string }>;
}

/**
 * One scheduler tick: every connection whose own schedule fired since it was last acted on gets a
 * run (which waits as queued when its tenant is at its limit). A connection with an open run is
 * skipped for this occurrence: never two runs for one connection. Queued runs of every tenant
 * seen are promoted too, so a missed promotion heals on the next tick.
 */
export class Scheduler {
  private readonly runs: RunService;

  constructor(private readonly context: EngineContext) {
    this.runs = new RunService(context);
  }

  async tick(): Promise<SchedulerTickResult> {
    const { platform } = this.context;
    const now = platform.clock.now();
    const result: SchedulerTickResult = { considered: 0, started: [], skipped: [] };
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
        const lastActed = new Date(connection.lastScheduledAt ?? connection.createdAt);
        if (!isDue(connection.schedule, lastActed, now)) continue;
        await this.markScheduled(connection, now);
        try {
          const run = await this.runs.startRun({ connection, mode: connection.schedule.mode, trigger: 'schedule' });
          result.started.push(run.id);
        } catch (error) {
          if (!isSyncBridgeError(error, 'conflict') && !isSyncBridgeError(error, 'validation')) throw error;
          result.skipped.push({ connectionId: connection.id, reason: error.message });
        }
      }
    }
    for (const tenantId of tenants) await this.runs.promoteQueued(tenantId);
    return result;
  }

  /** Records that this occurrence was acted on before starting, so a crash cannot start it twice. */
  private async markScheduled(connection: Connection, now: Date): Promise<void> {
    const { platform } = this.context;
    const fresh = await platform.connections.get(connection.id);
    if (!fresh) return;
    await platform.connections.update({ ...fresh, lastScheduledAt: now.toISOString(), updatedAt: now.toISOString() });
  }
}
