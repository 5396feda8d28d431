import { isSyncBridgeError, SyncBridgeError } from '../errors';
import type { Run } from '../model';
import { mutateRun, type EngineContext } from './engineContext';
import { RunService } from './runService';

/** What a connection's pause did to its open runs. */
export interface ConnectionRunsPaused {
  /** Runs the pause holds (Run.pausedBy 'connection'): running ones now paused, queued ones kept from starting. */
  paused: string[];
  /**
   * Runs whose closing step had already claimed them (Run.finalizingAt): they cannot be paused and
   * finish as they are. A closing step fetches no page from the provider.
   */
  finishing: string[];
}

/** Re-reads of one run when something else moved it between the read and the write. */
const MAX_ATTEMPTS = 10;

/**
 * A connection's pause and resume, applied to its open runs. A running run is paused through
 * RunService.pause, a queued one is held (tryStart leaves it queued, RunStore), both marked
 * `pausedBy: 'connection'`; the connection's resume resumes through RunService.resume, or
 * releases, only the runs so marked, so a run an operator paused stays paused.
 *
 * The connection's status is written before its runs are visited, on pause and on resume, and a
 * page step reads the status before it fetches (StepRunner): a run that slips past the pause's
 * visit (started, or resumed by hand, just as the connection was paused) is paused by its next
 * page step, which then reads the status again, so a resume that came in between and missed the
 * run is not missed by both (catchUpWithPause).
 */
export class ConnectionRuns {
  private readonly runs: RunService;

  constructor(private readonly context: EngineContext) {
    this.runs = new RunService(context);
  }

  /** Holds every open run of the connection; call after the connection is stored as paused. */
  async pause(connectionId: string): Promise<ConnectionRunsPaused> {
    const result: ConnectionRunsPaused = { paused: [], finishing: [] };
    for (const open of await this.context.platform.runs.listOpenByConnection(connectionId)) {
      const outcome = await this.pauseRun(open.id);
      if (outcome) result[outcome].push(open.id);
    }
    return result;
  }

  /**
   * Resumes, or releases, the connection's runs its pause holds; call after the connection is
   * stored as active. Returns their ids.
   */
  async resume(connectionId: string): Promise<string[]> {
    const resumed: string[] = [];
    for (const open of await this.context.platform.runs.listOpenByConnection(connectionId)) {
      if (open.pausedBy === 'connection' && (await this.resumeRun(open.id))) resumed.push(open.id);
    }
    return resumed;
  }

  /**
   * A page step found the run's connection paused: the run got past the pause's visit. It is
   * paused for the connection as the visit would have done; then, should the connection have been
   * resumed meanwhile (its visit may have come before this pause), it is resumed again.
   */
  async catchUpWithPause(run: Run): Promise<void> {
    const { platform } = this.context;
    if ((await this.pauseRun(run.id)) !== 'paused') return;
    platform.telemetry.log('info', 'Run paused by its page step: its connection is paused.', { runId: run.id, connectionId: run.connectionId });
    const connection = await platform.connections.get(run.connectionId);
    if (connection?.status === 'paused') return;
    try {
      await this.resumeRun(run.id);
    } catch (error) {
      // Still held, on an active connection: resuming the connection again (or the run) resumes it.
      platform.telemetry.exception(error, { runId: run.id, connectionId: run.connectionId, stage: 'connection-resume' });
    }
  }

  /** `paused`: the connection's pause holds the run (now or already); undefined: paused by an operator, or ended. */
  private async pauseRun(runId: string): Promise<keyof ConnectionRunsPaused | undefined> {
    const { platform } = this.context;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const run = await platform.runs.get(runId);
      if (!run) return undefined;
      if (run.state === 'paused') return run.pausedBy === 'connection' ? 'paused' : undefined;
      if (run.state === 'queued') {
        // Compare-and-set against tryStart: the hold lands on the queued run, or the start won and the next round pauses it.
        const held = await mutateRun(this.context, runId, (current) =>
          current.state === 'queued' && !current.pausedBy ? { ...current, pausedBy: 'connection', updatedAt: platform.clock.now().toISOString() } : undefined,
        );
        if (held?.state === 'queued') return 'paused';
        continue;
      }
      if (run.state !== 'running') return undefined;
      try {
        await this.runs.pause(runId, 'connection');
        return 'paused';
      } catch (error) {
        if (!isSyncBridgeError(error, 'conflict')) throw error;
        const now = await platform.runs.get(runId);
        if (now?.state === 'running' && now.finalizingAt) return 'finishing';
        // Moved meanwhile (a step ended it, an operator paused it): look again.
      }
    }
    throw new SyncBridgeError('conflict', `Run ${runId} kept changing while its connection's pause was applied to it; pause the connection again.`);
  }

  /** The run, resumed or released, when the connection's pause held it; undefined otherwise. */
  private async resumeRun(runId: string): Promise<Run | undefined> {
    const { platform } = this.context;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const run = await platform.runs.get(runId);
      if (!run || run.pausedBy !== 'connection') return undefined;
      if (run.state === 'paused') {
        try {
          return await this.runs.resume(runId);
        } catch (error) {
          if (!isSyncBridgeError(error, 'conflict')) throw error;
          // Unchanged: refused because the connection is paused again, which holds the run on.
          if ((await platform.runs.get(runId))?.version === run.version) return undefined;
          continue; // moved meanwhile (cancelled, taken over by an operator's pause): look again
        }
      }
      if (run.state !== 'queued') return undefined;
      const released = await mutateRun(this.context, runId, (current) =>
        current.state === 'queued' && current.pausedBy === 'connection' ? { ...current, pausedBy: null, updatedAt: platform.clock.now().toISOString() } : undefined,
      );
      if (released?.state !== 'queued' || released.pausedBy) continue;
      try {
        // Not resumed by hand (RunService.resume refuses a queued run): it starts when its tenant has room.
        await this.runs.promoteQueued(released.tenantId);
      } catch (error) {
        // Queued and no longer held: the next scheduler tick promotes it.
        platform.telemetry.exception(error, { runId, connectionId: released.connectionId, stage: 'connection-resume' });
      }
      return released;
    }
    throw new SyncBridgeError('conflict', `Run ${runId} kept changing while its connection's resume was applied to it; resume the connection again.`);
  }
}
