import type { ListPageResult, ProviderAdapter } from '../../adapters/adapter';
import { markRunFailed } from './runFailure';
import { adapterFor } from '../credentials/adapterFor';
import { applyPage } from '../../pipeline/applyPage';
import { settleParkedPushes } from '../outbound/settledPushes';
import type { EntityMergePolicy } from '../merge';
import { MAX_DELIVERY_COUNT, QUEUES } from '../../ports/queue';
import { ensureError, isSyncBridgeError, SyncBridgeError } from '../errors';
import { finalizeStepId, stepId } from '../ids';
import type { Connection, Run, RunCounters } from '../model';
import { mutateRun, type EngineContext } from './engineContext';
import { inboundMessageId, type InboundMessage } from './inboundMessage';
import { PagePrefetcher } from './pagePrefetcher';
import { maskAuthSchemes } from '../masking';
import { backoffDelayMs } from './retryPolicy';
import { planInternalRetry } from './internalRetry';
import { clampHighWater } from './highWaterMark';
import { isOpen, nextMessage, RunService } from './runService';
import { ConnectionRuns } from './connectionRuns';
import { runTraceparent } from '../traceContext';

export type StepOutcome =
  | 'applied' // a page was applied and the continuation enqueued
  | 'finalized' // the run finished
  | 'skipped' // nothing to do: the run is not running, or the step was applied before
  | 'rescheduled' // the provider asked us to wait, or it or our store failed transiently: a scheduled retry was sent
  | 'failed'; // the run failed for good

export interface StepOptions {
  /**
   * The broker will not deliver this message again (its delivery count reached the queue's
   * maxDeliveryCount, MAX_DELIVERY_COUNT): a throw would only dead-letter it and leave the run
   * `running` with no step to move it, holding its tenant's slot. Default false.
   */
  finalDelivery?: boolean;
}

/**
 * What a run says when a step failed by our fault until the queue gave up. It quotes nothing of
 * the error (a store's or a bug's text may carry data or internals): the exception is in the
 * telemetry under the run id and the step's message id.
 */
function internalFailure(stepMessageId: string): string {
  return `SyncBridge could not run step ${stepMessageId}: an internal error, retried with backoff until its tries ran out (the exception is in the telemetry under this run id). Start a new run once the cause is fixed.`;
}

/** What a page waiting after our own failure says; like internalFailure, nothing of the error. */
function internalRetryDetail(at: Date, attempt: number): string {
  return `An internal error (the exception is in the telemetry under this run id); retrying at ${at.toISOString()} (attempt ${attempt + 1} of ${MAX_DELIVERY_COUNT}).`;
}

/**
 * Why a page cannot move its listing forward, or null. A next cursor equal to the one asked for
 * names the same page again; a run of empty pages that still name a next cursor is a provider
 * going round in a circle. Either would list forever at full speed.
 */
function stalledListing(cursor: string | null, page: ListPageResult, emptyPagesBefore: number, maxEmptyPages: number): string | null {
  if (page.nextCursor === null) return null;
  if (page.nextCursor === cursor) return `the provider answered with the next cursor it was asked for ("${page.nextCursor.slice(0, 100)}"): the listing would never advance.`;
  if (page.records.length === 0 && emptyPagesBefore + 1 > maxEmptyPages) {
    return `the provider answered ${emptyPagesBefore + 1} pages in a row with no records but a next cursor (more than maxEmptyPages, ${maxEmptyPages}): the listing does not seem to advance.`;
  }
  return null;
}

/** Why a finished full listing is short of the total the provider reported, or null. */
function shortListing(fetched: number, total: number | null): string | null {
  if (total === null || fetched >= total) return null;
  return `the provider's listing ended after ${fetched} record(s) but it reported a total of ${total}: records were missed, so unseen records are not marked deleted. Run a full sync again; if it recurs, the provider's paging is at fault.`;
}

function addCounters(into: RunCounters, delta: RunCounters): void {
  for (const key of Object.keys(delta) as Array<keyof RunCounters>) into[key] += delta[key];
}

/**
 * Executes one inbound message: one page of one entity, or the closing step of a run.
 * Every path is safe to run twice: a page already applied only re-sends its continuation (whose
 * deterministic id the broker de-duplicates), and the page pipeline counts its own earlier writes.
 */
export class StepRunner {
  private readonly runs: RunService;
  private readonly connectionRuns: ConnectionRuns;

  constructor(private readonly context: EngineContext) {
    this.runs = new RunService(context);
    this.connectionRuns = new ConnectionRuns(context);
  }

  async handle(message: InboundMessage, options: StepOptions = {}): Promise<StepOutcome> {
    const run = await this.context.platform.runs.get(message.runId);
    if (!run) return 'skipped';
    if (run.state !== 'running') {
      // A copy of a page step that marked its page and then failed (a store error after the
      // write, a crash) may have left the mark after the run ended: this delivery removes it.
      if (message.kind === 'page') await this.forgetSeenOfFinished(run);
      return 'skipped';
    }
    try {
      return await this.runStep(run, message);
    } catch (error) {
      return this.onInternalFailure(run, message, error, options);
    }
  }

  private async runStep(run: Run, message: InboundMessage): Promise<StepOutcome> {
    try {
      return message.kind === 'finalize' ? await this.finalize(run, message) : await this.applyNextPage(run, message);
    } catch (error) {
      // Our store or pipeline failed in a way that may pass (a Cosmos 5xx or timeout, a page whose
      // writes lost every round to other writers): the step waits and tries again on the same
      // schedule as a provider's transient failure, instead of burning its deliveries in a second.
      if (isSyncBridgeError(error, 'transient')) return this.retryTransient(run, message, maskAuthSchemes(error.message));
      throw error;
    }
  }

  /**
   * The step failed by our fault (a store error, a bug). Retried like a provider's transient
   * failure (internalRetry.ts): this message completes and a scheduled copy tries again after the
   * retry policy's backoff, so a store that is down for a second or two does not spend the broker's
   * ten immediate redeliveries in milliseconds. The run records when that copy is due
   * (nextStepDueAt), so the watchdog does not take the wait for a lost step. A run no longer
   * running (cancelled, paused, finished meanwhile) gets no retry: a resume sends its own step.
   * On the last try, or the broker's last delivery, the run fails with a reason that quotes
   * nothing of the error, which frees its tenant's slot and lets its connection's schedule go on.
   * Only if that write, or the retry's send, fails is the error thrown, leaving the message to the
   * broker (redelivery, then dead letter, then the watchdog).
   */
  private async onInternalFailure(run: Run, message: InboundMessage, error: unknown, options: StepOptions): Promise<StepOutcome> {
    const { platform } = this.context;
    const id = inboundMessageId(message);
    const plan = planInternalRetry({ attemptsBefore: message.attempt, finalDelivery: options.finalDelivery === true, policy: this.context.retry, now: platform.clock.now(), random: this.context.random });
    platform.telemetry.exception(error, { runId: run.id, connectionId: run.connectionId, messageId: id, attempt: plan.attempt });
    if (plan.kind === 'give_up') {
      try {
        return await this.fail(run, internalFailure(id));
      } catch {
        throw error;
      }
    }
    const retry = { ...message, attempt: plan.attempt };
    try {
      const current = await this.recordWait(run.id, retry, plan.at, internalRetryDetail(plan.at, plan.attempt));
      if (current && current.state !== 'running') {
        // A page step that marked its page before it failed may have left a seen-set of an ended run.
        if (message.kind === 'page') await this.forgetSeenOfFinished(current);
        return 'skipped';
      }
    } catch {
      // The store may be what failed: the retry goes anyway. Its backoff (at most maxDelayMs) is far
      // inside the watchdog's grace, so the run's older due time does not make it look stalled.
    }
    try {
      await this.sendStep(run, retry, plan.at);
    } catch {
      throw error;
    }
    platform.telemetry.log('info', 'Step rescheduled after an internal error.', { runId: run.id, messageId: id, at: plan.at.toISOString(), attempt: plan.attempt });
    return 'rescheduled';
  }

  private async applyNextPage(run: Run, message: Extract<InboundMessage, { kind: 'page' }>): Promise<StepOutcome> {
    const { platform } = this.context;
    const progress = run.entities.find((e) => e.entity === message.entity);
    if (!progress) return 'skipped';
    if (progress.status === 'done' || message.page <= progress.pages) {
      // Applied before (a duplicate, or a redelivery after the checkpoint): make sure the chain goes on.
      await this.runs.enqueueNext(run);
      return 'skipped';
    }
    if (message.page !== progress.pages + 1) return 'skipped'; // cannot happen in one session; never skip a page

    const connection = await platform.connections.get(run.connectionId);
    if (!connection) return this.fail(run, `Connection ${run.connectionId} no longer exists.`);
    if (connection.status === 'paused') {
      // The run got past its connection's pause (started or resumed by hand as the connection was
      // paused): no page is fetched, the run is paused for the connection (connectionRuns.ts).
      await this.connectionRuns.catchUpWithPause(run);
      return 'skipped';
    }
    const definition = this.context.adapters.get(connection.provider);
    const pageSize = typeof connection.config.pageSize === 'number' ? connection.config.pageSize : definition.maxPageSize;

    let page: ListPageResult;
    const request = { entity: progress.entity, since: progress.since, cursor: progress.cursor, limit: pageSize };
    const { prefetcher } = this.context;
    let adapter: ProviderAdapter;
    try {
      adapter = await this.adapterFor(connection);
      page = (await prefetcher?.take(PagePrefetcher.key(connection.id, request))) ?? (await adapter.listPage(request));
    } catch (error) {
      return this.onProviderError(run, message, error);
    }
    const stalled = stalledListing(request.cursor, page, progress.emptyPages ?? 0, this.context.maxEmptyPages);
    if (stalled) return this.onProviderError(run, message, new SyncBridgeError('provider_rejected', `${progress.entity} page ${message.page}: ${stalled}`));
    // Read ahead while this page is processed, unless the provider's window has no room left.
    if (prefetcher && page.nextCursor !== null && page.rateLimit?.remaining !== 0) {
      const next = { ...request, cursor: page.nextCursor };
      prefetcher.prefetch(PagePrefetcher.key(connection.id, next), () => adapter.listPage(next));
    }

    const id = stepId(run.id, progress.entity, message.page);
    const applied = await applyPage({
      records: platform.records,
      scope: { tenantId: run.tenantId, connectionId: run.connectionId, entity: progress.entity },
      runId: run.id,
      stepId: id,
      mode: run.kind,
      page: page.records,
      now: platform.clock.now().toISOString(),
      // Pulls meeting an unpushed local change merge under the connection's policy for the entity.
      mergePolicy: (connection.config.mergePolicy as Record<string, EntityMergePolicy> | undefined)?.[progress.entity],
      customRules: this.context.customRules,
      remoteOrigin: connection.provider,
    });
    await settleParkedPushes(platform, applied.settledPushes);
    if (applied.futureStamped.length > 0) {
      // Their time does not move the high-water mark past our clock (clampHighWater); say so, as a
      // provider clock this far ahead is worth fixing at the source.
      const first = applied.futureStamped[0];
      platform.telemetry.log('warn', 'Records stamped in the future: the high-water mark stops at the current time.', {
        runId: run.id, entity: progress.entity, count: applied.futureStamped.length, externalId: first.externalId, updatedAt: first.updatedAt,
      });
      platform.telemetry.metric('FutureStampedRecords', applied.futureStamped.length, { connectionId: run.connectionId, entity: progress.entity });
    }
    for (const rejected of applied.rejected) {
      platform.telemetry.log('warn', 'Record quarantined: it failed validation.', {
        runId: run.id, entity: progress.entity, externalId: rejected.externalId, reasons: rejected.reasons.join(' '),
      });
    }

    const short = run.kind === 'full' && page.nextCursor === null ? shortListing(progress.counters.fetched + applied.counters.fetched, page.total ?? progress.total) : null;
    // Obey the provider's window: when the page used the last request of it, wait for the reset.
    const rateLimit = page.rateLimit;
    const waitUntil = rateLimit?.remaining === 0 && rateLimit.resetAt && rateLimit.resetAt > platform.clock.now() ? rateLimit.resetAt : undefined;
    const updated = await mutateRun(this.context, run.id, (current) => {
      // A run that ended while this page was in flight (cancelled, failed) keeps the progress and
      // counters it had then: this page was not part of it. A paused run takes the checkpoint, as
      // its resume goes on from here (pausing does not end the run).
      if (!isOpen(current)) return undefined;
      const p = current.entities.find((e) => e.entity === progress.entity)!;
      if (p.pages >= message.page) return undefined; // someone applied it meanwhile
      p.pages = message.page;
      p.cursor = page.nextCursor;
      p.status = page.nextCursor === null && !short ? 'done' : 'running';
      p.emptyPages = page.records.length === 0 && page.nextCursor !== null ? (p.emptyPages ?? 0) + 1 : 0;
      p.total = page.total ?? p.total;
      p.attempts = 0;
      p.lastError = applied.rejected.length > 0 ? `${applied.rejected.length} record(s) failed validation on page ${message.page}.` : p.lastError;
      if (applied.highWater && (!p.highWater || Date.parse(applied.highWater) > Date.parse(p.highWater))) p.highWater = applied.highWater;
      addCounters(p.counters, applied.counters);
      current.updatedAt = platform.clock.now().toISOString();
      // The continuation sent below is due then (runWatchdog.ts); the run moved, so re-drives start over.
      current.nextStepDueAt = (waitUntil ?? platform.clock.now()).toISOString();
      current.redrives = 0;
      return current;
    });
    platform.telemetry.metric('RecordsSynced', applied.counters.fetched, { connectionId: run.connectionId, entity: progress.entity });
    // The same page by outcome, one metric per non-zero outcome (a chart splits by `outcome`).
    for (const outcome of ['created', 'updated', 'unchanged', 'deleted', 'failed'] as const) {
      if (applied.counters[outcome] > 0) platform.telemetry.metric('RecordsSyncedByOutcome', applied.counters[outcome], { connectionId: run.connectionId, entity: progress.entity, outcome });
    }

    // A cancel (or a failure) that ended the run while this page was in flight cleared its
    // seen-sets before this page marked its ids: nothing clears them again, so this step does.
    if (updated) await this.forgetSeenOfFinished(updated);
    if (updated && !isOpen(updated)) {
      // Its records stay written (they are the provider's current data, stored with this step's id).
      platform.telemetry.log('info', 'Page applied after its run ended: the run does not count it.', { runId: run.id, entity: progress.entity, page: message.page, state: updated.state });
      return 'skipped';
    }

    // A full listing that ended short of the provider's own total missed records: no sweep may
    // conclude from it that the unseen ones are gone, so the run fails before its closing step.
    if (short) return this.fail(updated ?? run, `${progress.entity}: ${short}`);

    if (updated) await this.runs.enqueueNext(updated, waitUntil);
    return 'applied';
  }

  private async onProviderError(run: Run, message: Extract<InboundMessage, { kind: 'page' }>, error: unknown): Promise<StepOutcome> {
    const { platform, retry } = this.context;
    const reason = ensureError(error).message;
    const now = platform.clock.now();
    if (isSyncBridgeError(error, 'rate_limited')) {
      if (message.waits + 1 > retry.maxRateLimitWaits) return this.fail(run, `Gave up after ${retry.maxRateLimitWaits} rate-limit waits: ${reason}`);
      // No Retry-After nor reset: back off by the count of waits, as a fixed second would hammer the provider.
      const at = error.retryAt && error.retryAt > now ? error.retryAt : new Date(now.getTime() + backoffDelayMs(retry, message.waits + 1, this.context.random));
      await this.reschedule(run, { ...message, waits: message.waits + 1 }, at, reason);
      return 'rescheduled';
    }
    // A 5xx with Retry-After (maintenance) carries retryAt: wait for it when it is later than the backoff.
    if (isSyncBridgeError(error, 'transient')) return this.retryTransient(run, message, reason, error.retryAt);
    if (isSyncBridgeError(error, 'auth_failed') || isSyncBridgeError(error, 'provider_rejected') || isSyncBridgeError(error, 'configuration') || isSyncBridgeError(error, 'validation')) {
      return this.fail(run, reason);
    }
    throw error; // our own failure (store, bug): retried with backoff, then the run fails (onInternalFailure)
  }

  /**
   * Retries the step after a backoff (retry policy), or at `notBefore` (the provider's Retry-After)
   * when that is later, or fails the run once its tries are spent.
   */
  private async retryTransient(run: Run, message: InboundMessage, reason: string, notBefore?: Date): Promise<StepOutcome> {
    const { platform, retry } = this.context;
    const attempt = message.attempt + 1;
    if (attempt >= retry.maxAttempts) {
      const step = message.kind === 'page' ? `${message.entity} page ${message.page}` : 'the closing step';
      return this.fail(run, `Gave up on ${step} after ${attempt} attempts: ${reason}`);
    }
    const backoff = platform.clock.now().getTime() + backoffDelayMs(retry, attempt, this.context.random);
    const at = new Date(notBefore && notBefore.getTime() > backoff ? notBefore.getTime() : backoff);
    await this.reschedule(run, { ...message, attempt }, at, reason);
    return 'rescheduled';
  }

  private async reschedule(run: Run, message: InboundMessage, at: Date, reason: string): Promise<void> {
    await this.recordWait(run.id, message, at, reason);
    this.context.platform.telemetry.log('info', 'Step rescheduled.', { runId: run.id, reason, at: at.toISOString() });
    await this.sendStep(run, message, at);
  }

  /**
   * Records on the run when its rescheduled step is due, so that the watchdog leaves a run waiting
   * for a long Retry-After or a backoff alone (runWatchdog.ts), and why a page waits. Returns the
   * run as stored; a run no longer running is left as it is.
   */
  private recordWait(runId: string, message: InboundMessage, at: Date, reason: string): Promise<Run | undefined> {
    const { platform } = this.context;
    return mutateRun(this.context, runId, (current) => {
      if (current.state !== 'running') return undefined; // a finished run never changes again
      if (message.kind === 'page') {
        const p = current.entities.find((e) => e.entity === message.entity);
        if (!p) return undefined;
        p.attempts = message.attempt;
        p.lastError = reason;
      }
      current.nextStepDueAt = at.toISOString();
      current.updatedAt = platform.clock.now().toISOString();
      return current;
    });
  }

  /** Sends the step as a scheduled message for `at`, in its connection's session. */
  private async sendStep(run: Run, message: InboundMessage, at: Date): Promise<void> {
    await this.context.platform.queue.send(QUEUES.inbound, {
      body: message,
      messageId: inboundMessageId(message),
      sessionId: run.connectionId,
      scheduledEnqueueTime: at,
      applicationProperties: { runId: run.id, kind: message.kind, traceparent: runTraceparent(run.id) },
    });
  }

  private async finalize(run: Run, message: Extract<InboundMessage, { kind: 'finalize' }>): Promise<StepOutcome> {
    const { platform } = this.context;
    if (nextMessage(run)?.kind !== 'finalize') return 'skipped'; // pages remain: a stray message
    const now = platform.clock.now().toISOString();
    const anyFailed = run.entities.some((e) => e.counters.failed > 0);
    const sweeps = new Map<string, number>();
    // Only a complete, clean full pass may conclude that unseen records are gone, and only of
    // records nobody wrote since it began: one a webhook or a push stored meanwhile may exist at
    // the provider behind the listing's position (RecordStore.sweepUnseen).
    if (run.kind === 'full' && !anyFailed) {
      if (!(await this.claimForSweep(run.id, now))) return 'skipped';
      const writtenBefore = run.startedAt ?? run.createdAt;
      for (const p of run.entities) {
        // Another copy of this step (a redelivery after a lost lock) may have finished the run
        // meanwhile and cleared its seen-sets: stop here. Should it finish between this read and
        // the sweep, the sweep finds no seen-set and throws instead of sweeping everything.
        const current = await platform.runs.get(run.id);
        if (current?.state !== 'running') return 'skipped';
        const scope = { tenantId: run.tenantId, connectionId: run.connectionId, entity: p.entity };
        sweeps.set(p.entity, await platform.records.sweepUnseen(run.id, scope, `${finalizeStepId(run.id)}:${p.entity}`, now, writtenBefore));
      }
    }
    const finished = await mutateRun(this.context, run.id, (current) => {
      if (current.state !== 'running') return undefined;
      for (const p of current.entities) p.counters.deleted += sweeps.get(p.entity) ?? 0;
      current.state = anyFailed ? 'partial' : 'done';
      current.finishedAt = now;
      current.updatedAt = now;
      return current;
    });
    if (!finished || finished.finishedAt !== now) return 'skipped';
    await this.recordSyncState(finished);
    await platform.records.clearSeen(run.id);
    this.reportFinished(finished, message);
    await this.runs.promoteQueued(run.tenantId);
    return 'finalized';
  }

  /**
   * Claims a running run for its deletion sweep (Run.finalizingAt), with compare-and-set against
   * cancel and pause: either they won and the run is no longer running (no sweep), or the claim
   * won and they are refused from now on. Without it a cancel landing between this step's read
   * of the run and its sweep cleared the seen-sets the sweep was about to read. A redelivered
   * closing step finds its own claim and carries on (the sweep of each entity is idempotent).
   */
  private async claimForSweep(runId: string, now: string): Promise<boolean> {
    const claimed = await mutateRun(this.context, runId, (current) => {
      if (current.state !== 'running' || current.finalizingAt) return undefined;
      current.finalizingAt = now;
      current.updatedAt = now;
      return current;
    });
    return claimed?.state === 'running' && Boolean(claimed.finalizingAt);
  }

  /** Moves the connection's per-entity high-water marks forward after a finished run. */
  private async recordSyncState(run: Run): Promise<void> {
    const { platform } = this.context;
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const connection = await platform.connections.get(run.connectionId);
      if (!connection) return;
      for (const p of run.entities) {
        const state = { ...connection.syncState[p.entity] };
        // A mark stored in the future (before marks were clamped) would otherwise never move again.
        if (state.highWater) state.highWater = clampHighWater(state.highWater, platform.clock.now().toISOString());
        if (p.highWater && (!state.highWater || Date.parse(p.highWater) > Date.parse(state.highWater))) state.highWater = p.highWater;
        state.lastCompletedRunId = run.id;
        state.lastCompletedAt = run.finishedAt ?? undefined;
        if (run.kind === 'full') state.lastFullSyncAt = run.finishedAt ?? undefined;
        connection.syncState[p.entity] = state;
      }
      connection.updatedAt = platform.clock.now().toISOString();
      try {
        await platform.connections.update(connection);
        return;
      } catch (error) {
        if (!isSyncBridgeError(error, 'conflict')) throw error;
      }
    }
  }

  private reportFinished(run: Run, _message: InboundMessage): void {
    const totals = run.entities.reduce(
      (sum, p) => {
        addCounters(sum, p.counters);
        return sum;
      },
      { fetched: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, failed: 0 },
    );
    const durationMs = run.startedAt && run.finishedAt ? Date.parse(run.finishedAt) - Date.parse(run.startedAt) : 0;
    this.context.platform.telemetry.event('RunFinished', { runId: run.id, connectionId: run.connectionId, state: run.state, kind: run.kind }, { ...totals, durationMs });
    this.context.platform.telemetry.metric('RunDurationMs', durationMs, { connectionId: run.connectionId, kind: run.kind });
  }

  private async fail(run: Run, reason: string): Promise<StepOutcome> {
    const { platform } = this.context;
    const now = platform.clock.now().toISOString();
    const failed = await mutateRun(this.context, run.id, (current) => {
      if (current.state !== 'running' && current.state !== 'paused') return undefined;
      return markRunFailed(current, reason, now);
    });
    await platform.records.clearSeen(run.id);
    if (failed?.state === 'failed') {
      platform.telemetry.event('RunFinished', { runId: run.id, connectionId: run.connectionId, state: 'failed', reason });
      await this.runs.promoteQueued(run.tenantId);
    }
    return 'failed';
  }

  /**
   * Removes the seen-sets of a full run that has ended (done, partial, failed, cancelled). Whatever
   * ends a run clears them, but a page step in flight at that moment marks its page afterwards
   * (it read the run as running before the end): a seen-set never swept and never removed. The
   * step checks the run after its checkpoint, which comes after its mark, so one of the two
   * clears runs after the mark. Clearing is idempotent, and a finished run is never swept.
   */
  private async forgetSeenOfFinished(run: Run): Promise<void> {
    if (run.kind !== 'full' || isOpen(run)) return;
    await this.context.platform.records.clearSeen(run.id);
  }

  private adapterFor(connection: Connection): Promise<ProviderAdapter> {
    return adapterFor(this.context.platform, this.context.adapters, connection);
  }
}
