import { QUEUES } from '../../ports/queue';
import { SyncBridgeError } from '../errors';
import { newRunId } from '../ids';
import { emptyCounters, OPEN_RUN_STATES, type Connection, type EntityProgress, type Run, type RunPauser, type RunTrigger, type SyncMode } from '../model';
import { mutateRun, type EngineContext } from './engineContext';
import { inboundMessageId, type InboundMessage } from './inboundMessage';
import { canTransition } from './runStateMachine';
import { assertEntityNameList } from '../entityNames';
import { runTraceparent } from '../traceContext';
import { clampHighWater } from './highWaterMark';

export interface StartRunRequest {
  connection: Connection;
  mode: SyncMode;
  /** Entities to sync; default every pull (or both-ways) entity of the connection. */
  entities?: string[];
  trigger: RunTrigger;
}

/**
 * Starting and steering runs: the operations behind the admin API and the scheduler.
 * The per-page work is StepRunner's.
 */
export class RunService {
  constructor(private readonly context: EngineContext) {}

  /**
   * Creates a run for the connection, queued, and starts it at once when the tenant has room.
   * Fails with `conflict` while the connection has a queued, running or paused run: one connection
   * never has two runs at once.
   */
  async startRun(request: StartRunRequest): Promise<Run> {
    const { connection } = request;
    const { platform } = this.context;
    // De-duplicated: a connection stored before repeated names were refused may list one twice,
    // and a run with two progress entries for one entity never finishes (entityNames.ts).
    const pullable = [...new Set(connection.entities.filter((e) => e.direction !== 'push').map((e) => e.name))];
    if (request.entities) assertEntityNameList(request.entities);
    const entities = request.entities ?? pullable;
    if (entities.length === 0) throw new SyncBridgeError('validation', 'entities must name at least one entity.');
    for (const entity of entities) {
      if (!pullable.includes(entity)) {
        throw new SyncBridgeError('validation', `entities: "${entity}" is not a pull entity of connection ${connection.id} (it has ${pullable.join(', ')}).`);
      }
    }
    if (this.context.adapters.get(connection.provider).webhookOnly) {
      throw new SyncBridgeError('validation', `${connection.provider} connections receive their records by webhook only; there is nothing to sync.`);
    }
    if (connection.status === 'reauthorization_required') {
      throw new SyncBridgeError('conflict', `Connection ${connection.id} needs reauthorization before it can sync.`);
    }
    if (connection.status === 'paused') {
      throw new SyncBridgeError('conflict', `Connection ${connection.id} is paused; resume it (POST /api/connections/${connection.id}/resume) before it can sync.`);
    }

    // The lease makes check-then-create atomic across scheduler ticks, API calls and instances.
    const lease = await platform.leases.acquire(`run-start:${connection.id}`, 'run-service', 30_000);
    if (!lease) throw new SyncBridgeError('conflict', `A run is being started for connection ${connection.id} right now.`);
    let run: Run;
    try {
      const open = await platform.runs.listOpenByConnection(connection.id);
      if (open.length > 0) {
        throw new SyncBridgeError('conflict', `Connection ${connection.id} already has run ${open[0].id} in state ${open[0].state}.`);
      }
      const now = platform.clock.now();
      const nowIso = now.toISOString();
      run = await platform.runs.create({
        id: newRunId(),
        tenantId: connection.tenantId,
        connectionId: connection.id,
        kind: request.mode,
        trigger: request.trigger,
        state: 'queued',
        entities: entities.map((entity) => this.initialProgress(connection, entity, request.mode)),
        createdAt: nowIso,
        startedAt: null,
        finishedAt: null,
        updatedAt: nowIso,
        lastError: null,
        resumes: 0,
        version: 0,
      });
    } finally {
      await platform.leases.release(lease);
    }
    platform.telemetry.event('RunQueued', { runId: run.id, connectionId: connection.id, kind: run.kind, trigger: run.trigger });
    await this.promoteQueued(connection.tenantId);
    return (await platform.runs.get(run.id)) ?? run;
  }

  private initialProgress(connection: Connection, entity: string, mode: SyncMode): EntityProgress {
    let since: string | null = null;
    const highWater = connection.syncState[entity]?.highWater;
    if (mode === 'incremental' && highWater) {
      // clampHighWater: a mark stored in the future before marks were clamped must not hide today's changes.
      const mark = clampHighWater(highWater, this.context.platform.clock.now().toISOString())!;
      since = new Date(Date.parse(mark) - this.context.lookbackSeconds * 1000).toISOString().replace('.000Z', 'Z');
    }
    return { entity, status: 'pending', cursor: null, pages: 0, since, highWater: null, total: null, counters: emptyCounters(), attempts: 0, lastError: null };
  }

  /**
   * Starts queued runs of the tenant, oldest first, while it has room under its limit. When the
   * queue refuses a started run's first step, the run goes back to queued (a later promotion, at
   * the latest the next scheduler tick, starts it) and this fails with `transient`: a run is never
   * left running without a step message.
   */
  async promoteQueued(tenantId: string): Promise<Run[]> {
    const { platform } = this.context;
    const queue = await platform.runs.listQueued(tenantId);
    // Most tenants have nothing queued on most scheduler ticks: their limit is read only when needed.
    if (queue.length === 0) return [];
    const tenant = await platform.tenants.getTenant(tenantId);
    const limit = tenant?.maxActiveRuns ?? this.context.maxActiveRunsPerTenant;
    const started: Run[] = [];
    for (const queued of queue) {
      const run = await platform.runs.tryStart(queued.id, limit, platform.clock.now().toISOString());
      if (!run) {
        if ((await platform.runs.countActive(tenantId)) >= limit) break;
        continue; // that run left the queue meanwhile (cancelled); try the next
      }
      try {
        await this.enqueueNext(run);
      } catch (error) {
        await this.undoStart(run, error);
        throw new SyncBridgeError('transient', `Run ${run.id} could not start: the queue did not accept its first step. It is queued again and starts on the next scheduler tick (about a minute), or cancel it.`, { cause: error, forCaller: true });
      }
      platform.telemetry.event('RunStarted', { runId: run.id, connectionId: run.connectionId, kind: run.kind });
      started.push(run);
    }
    return started;
  }

  /**
   * Puts a run whose first step the queue refused back to queued. An undo of tryStart rather than
   * a transition (the state machine has no running → queued): nothing of the run ran. Only while
   * nothing wrote the run since it started: a step did run if the broker accepted the message
   * after all (a send that timed out), and then the run's chain is alive. The run's resume count
   * goes up, so that the next start's message ids differ from the ones the broker may hold in its
   * duplicate-detection window.
   */
  private async undoStart(started: Run, error: unknown): Promise<void> {
    const { platform } = this.context;
    platform.telemetry.exception(error, { runId: started.id, connectionId: started.connectionId, stage: 'start' });
    await mutateRun(this.context, started.id, (current) => {
      if (current.state !== 'running' || current.version !== started.version) return undefined;
      return { ...current, state: 'queued', startedAt: null, resumes: current.resumes + 1, updatedAt: platform.clock.now().toISOString() };
    });
  }

  /**
   * Pauses a running run; `by` records who (Run.pausedBy), so that a connection's resume resumes
   * only the runs its pause paused. An operator's pause of a run the connection's pause paused
   * takes it over (it stays paused when the connection is resumed); a connection's pause of a run
   * already paused leaves it as it is.
   */
  async pause(runId: string, by: RunPauser = 'operator'): Promise<Run> {
    return this.transition(runId, 'paused', (run) => ({ ...run, pausedBy: by }), undefined, (run) =>
      by === 'operator' && run.pausedBy === 'connection' ? { ...run, pausedBy: 'operator', updatedAt: this.context.platform.clock.now().toISOString() } : undefined,
    );
  }

  /**
   * Resumes a paused run, whoever paused it (Run.pausedBy is cleared). Refused (`conflict`) for a
   * queued run, and for a run whose connection is paused. When the queue refuses its next step, the run goes back to paused (unless
   * something else wrote it meanwhile) and this fails with `transient`: resuming again is safe, as
   * each resume gives the run's messages new ids.
   */
  async resume(runId: string): Promise<Run> {
    const { platform } = this.context;
    await this.refuseWhileConnectionPaused(runId);
    // Due now: a reschedule's later due time (nextStepDueAt) belongs to a message this resume outdates.
    // Only a paused run: a queued one starts when its tenant has room (tryStart), never by hand past the limit.
    let pausedBefore: RunPauser | null = null;
    const run = await this.transition(runId, 'running', (r) => {
      pausedBefore = r.pausedBy ?? null;
      return { ...r, pausedBy: null, resumes: r.resumes + 1, nextStepDueAt: this.context.platform.clock.now().toISOString(), redrives: 0 };
    }, ['paused']);
    try {
      await this.enqueueNext(run);
    } catch (error) {
      platform.telemetry.exception(error, { runId: run.id, connectionId: run.connectionId, stage: 'resume' });
      // Paused as before, by whoever paused it, so that a connection's resume again picks it up.
      const back = await mutateRun(this.context, run.id, (current) =>
        current.state === 'running' && current.version === run.version ? { ...current, state: 'paused', pausedBy: pausedBefore, updatedAt: platform.clock.now().toISOString() } : undefined,
      );
      const now = back?.state === 'paused' ? 'It is still paused; resume it again.' : `It is ${back?.state ?? 'gone'} now.`;
      throw new SyncBridgeError('transient', `Run ${run.id} could not resume: the queue did not accept its next step. ${now}`, { cause: error, forCaller: true });
    }
    return run;
  }

  /**
   * Cancels a queued, running or paused run, unless its closing step has claimed it for the
   * deletion sweep (`conflict`: it is finishing). Clearing the seen-sets here is safe because
   * only a claimed closing step sweeps, and the claim and this transition are compare-and-set on
   * the same run: a step still in flight after the cancel can only add to a seen-set (never
   * read, and removed by that step: StepRunner.forgetSeenOfFinished), and the sweep refuses a
   * seen-set that is gone (RecordStore.sweepUnseen).
   */
  async cancel(runId: string): Promise<Run> {
    const run = await this.transition(runId, 'cancelled', (r) => ({ ...r, finishedAt: this.context.platform.clock.now().toISOString() }));
    await this.context.platform.records.clearSeen(run.id);
    this.context.platform.telemetry.event('RunFinished', { runId: run.id, connectionId: run.connectionId, state: run.state });
    await this.promoteQueued(run.tenantId);
    return run;
  }

  /**
   * A run of a paused connection is not resumed by hand: the connection's pause holds its runs
   * until the connection is resumed, which resumes the runs it paused (connectionRuns.ts). Should
   * the connection be paused right after this check, the run's next page step finds it paused and
   * pauses the run for it (StepRunner).
   */
  private async refuseWhileConnectionPaused(runId: string): Promise<void> {
    const { platform } = this.context;
    const run = await platform.runs.get(runId);
    if (!run) return; // the transition says not_found
    const connection = await platform.connections.get(run.connectionId);
    if (connection?.status === 'paused') {
      throw new SyncBridgeError('conflict', `Run ${runId} belongs to connection ${run.connectionId}, which is paused; resume the connection (POST /api/connections/${run.connectionId}/resume), which resumes the runs its pause paused.`);
    }
  }

  /**
   * Moves the run to `to` under compare-and-set. `from` narrows the states it may leave; `stay`
   * handles a run already in `to` (the run to write, or undefined for the usual refusal).
   */
  private async transition(runId: string, to: Run['state'], extra: (run: Run) => Run, from?: readonly Run['state'][], stay?: (run: Run) => Run | undefined): Promise<Run> {
    let refused: string | undefined;
    const run = await mutateRun(this.context, runId, (current) => {
      if (current.state === to && stay) {
        const kept = stay(current);
        if (kept) {
          refused = undefined;
          return kept;
        }
      }
      if (from && !from.includes(current.state)) {
        refused = current.state === 'queued'
          ? `Run ${runId} is queued; it starts by itself when its tenant has room for another active run, and cannot be resumed by hand.`
          : `Run ${runId} is ${current.state}; only a ${from.join(' or ')} run can become ${to} here.`;
        return undefined;
      }
      if (!canTransition(current.state, to)) {
        refused = `Run ${runId} is ${current.state}; it cannot become ${to}.`;
        return undefined;
      }
      // A run whose closing step is sweeping deletions finishes as it is (StepRunner.claimForSweep).
      if (current.finalizingAt && (to === 'cancelled' || to === 'paused')) {
        refused = `Run ${runId} is finishing (its closing step is sweeping deletions since ${current.finalizingAt}); it cannot become ${to} now.`;
        return undefined;
      }
      refused = undefined;
      return extra({ ...current, state: to, updatedAt: this.context.platform.clock.now().toISOString() });
    });
    if (!run) throw new SyncBridgeError('not_found', `Run ${runId} does not exist.`);
    if (refused) throw new SyncBridgeError('conflict', refused);
    return run;
  }

  /**
   * Enqueues the step that continues a running run from its checkpoint. `retry` carries the
   * counters of a re-sent step (the watchdog's), which give the message a fresh id.
   */
  async enqueueNext(run: Run, scheduledAt?: Date, retry?: NextMessageCounters): Promise<void> {
    const message = nextMessage(run, retry);
    if (!message) return;
    await this.context.platform.queue.send(QUEUES.inbound, {
      body: message,
      messageId: inboundMessageId(message),
      sessionId: run.connectionId,
      scheduledEnqueueTime: scheduledAt,
      applicationProperties: { runId: run.id, kind: message.kind, traceparent: runTraceparent(run.id) },
    });
  }
}

export interface NextMessageCounters {
  attempt: number;
  waits: number;
  /** The watchdog's re-send count (runWatchdog.ts); absent or 0 on the step chain's own messages. */
  redrive?: number;
}

/** The message that continues a run from its checkpoint: the next page, or the finalize step. */
export function nextMessage(run: Run, retry?: NextMessageCounters): InboundMessage | undefined {
  if (run.state !== 'running') return undefined;
  const resume = run.resumes > 0 ? run.resumes : undefined;
  const redrive = retry?.redrive ? { redrive: retry.redrive } : {};
  const current = run.entities.find((e) => e.status !== 'done');
  if (current) {
    return { kind: 'page', runId: run.id, entity: current.entity, page: current.pages + 1, attempt: retry?.attempt ?? 0, waits: retry?.waits ?? 0, resume, ...redrive };
  }
  return { kind: 'finalize', runId: run.id, attempt: retry?.attempt ?? 0, resume, ...redrive };
}

export function isOpen(run: Run): boolean {
  return OPEN_RUN_STATES.includes(run.state);
}
