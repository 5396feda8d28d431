import type { ProviderAdapter, ProviderRecord } from '../../adapters/adapter';
import { adapterFor } from '../credentials/adapterFor';
import type { AdapterRegistry } from '../../adapters/registry';
import { applyPage } from '../../pipeline/applyPage';
import { settleParkedPushes } from '../outbound/settledPushes';
import type { Delivery, DeliveryStore } from '../../ports/deliveryStore';
import type { Platform } from '../../ports/platform';
import { MAX_DELIVERY_COUNT, QUEUES } from '../../ports/queue';
import { isSyncBridgeError, SyncBridgeError } from '../errors';
import type { Connection, JsonObject, RecordState } from '../model';
import { webhookMessageId, type WebhookBatchInboundMessage, type WebhookInboundMessage } from '../runs/inboundMessage';
import { retryPolicy, type RetryPolicy } from '../runs/retryPolicy';
import { CustomMergeRules, type EntityMergePolicy } from '../merge';
import { providerEventParser, type ProviderEventParser, type RecordChange } from '../../webhooks/events';
import { eventTime, staleReason } from './eventOrder';
import { planFetchFailure } from './fetchRetry';
import { settledByThisMessage, supersededByReplay } from './supersededMessage';
import { heldDeliveryReason, holdsDeliveries } from './heldDeliveries';
import { currentTraceparent, runInTrace } from '../traceContext';
import { planInternalRetry } from '../runs/internalRetry';

/**
 * `rescheduled`: a provider call (or our own code) failed and a scheduled retry was sent.
 * `held`: the connection is paused; the delivery waits in the log for its resume (heldDeliveries.ts).
 * `deferred`: only in `applyTaken`: the delivery needs a provider call; nothing of it was written,
 * and it goes to the worker in a message.
 */
export type ApplyOutcome = 'applied' | 'ignored' | 'failed' | 'skipped' | 'rescheduled' | 'held' | 'deferred';

/** What the applier reads and writes of the delivery log (DeliveryLogBuffer stands in for it in applyTaken). */
export type AppliedDeliveryLog = Pick<DeliveryStore, 'get' | 'update' | 'recordHealth'>;

/** A delivery whose row is not written yet, and the trace its intake ran in (applyTaken). */
export interface TakenDelivery {
  delivery: Delivery;
  traceparent?: string;
}

export interface ApplyOptions {
  /**
   * The broker will not deliver this message again (its delivery count reached the queue's
   * maxDeliveryCount): a throw would only dead-letter it and leave the delivery `received`.
   * Default false.
   */
  finalDelivery?: boolean;
  /**
   * The broker's sequence number of the message being handled (a redelivery keeps it; every new
   * message, retries and replays included, has its own): a delivery this very message settled
   * before is left as it is (settledByThisMessage). Without one, every delivery is judged.
   */
  messageSequence?: string;
}

/** What applyTaken's caller says of its batch. */
export interface TakenBatchOptions {
  /**
   * Connections with earlier deliveries still waiting for the worker (their messages due on
   * `sync-inbound`): this batch's deliveries of them are deferred too, so that none overtakes them.
   */
  behind?: ReadonlySet<string>;
  /**
   * Errors that fail the whole batch, which its caller tries again, instead of a scheduled retry
   * per delivery: the store being busy (another process holds its write lock). Default none.
   */
  failsBatch?: (error: unknown) => boolean;
}

/**
 * A delivery applied by applyTaken, in its caller's transaction: one that needs a provider call
 * (an id-only event's fetch) is `deferred` before anything of it is written.
 */
interface ApplyingOptions extends ApplyOptions {
  taken?: Pick<TakenBatchOptions, 'failsBatch'>;
}

/** What the delivery log says of a failure that is ours: its text may quote store internals or data. */
const INTERNAL_FAILURE = 'SyncBridge could not apply this delivery: an internal error, retried with backoff until its tries ran out (the exception is in the telemetry under this delivery id). Replay it once the cause is fixed.';

/** What a delivery waiting after our own failure says; like INTERNAL_FAILURE, nothing of the error. */
function internalRetryDetail(at: Date, attempt: number): string {
  return `Waiting to retry at ${at.toISOString()} (attempt ${attempt + 1} of ${MAX_DELIVERY_COUNT}) after an internal error (the exception is in the telemetry under this delivery id).`;
}

const EVENT_TYPE = /^([A-Za-z0-9_-]+)\.(created|updated|deleted)$/;

/**
 * Why an id-only event of a connection parked for reauthorization failed. Final, as every auth
 * failure is in the fetch retry model (fetchRetry.ts): deliveries are not held — nothing would
 * know when to try again, and a reconnect can take days — but failed with what to do; the
 * delivery log keeps the event for its replay.
 */
function awaitingReauthorization(connectionId: string, deliveryId: string): string {
  return `Connection ${connectionId} needs reauthorization: this event names only the record id, and the record cannot be fetched until the connection is connected again (/api/connect). Replay the delivery (POST /api/deliveries/${deliveryId}/replay) once the connection is active.`;
}

/** The sandbox scheme's record fields (as in shared/adapters/providers/sandbox.ts). */
function toProviderRecord(item: JsonObject, deletedByType: boolean): ProviderRecord {
  const deleted = deletedByType || item.deleted === true;
  return {
    externalId: String(item.id),
    updatedAt: typeof item.updated_at === 'string' ? item.updated_at : null,
    deleted,
    data: deleted ? {} : item,
  };
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The record id a sandbox-scheme event names without carrying the record (fetched), if any. */
function idToFetch(data: JsonObject): string | undefined {
  if (isObject(data.record)) return undefined;
  return typeof data.id === 'string' || typeof data.id === 'number' ? String(data.id) : undefined;
}

function pulls(connection: Connection, entity: string): boolean {
  const configured = connection.entities.find((e) => e.name === entity);
  return configured !== undefined && configured.direction !== 'push';
}

type ConnectionReader = (id: string) => Promise<Connection | undefined>;

/**
 * Connections read once for the deliveries of a batch that apply one after another: a
 * connection is read again after one of its deliveries ends otherwise (a refused token that
 * parked it, a failure or a retry may have changed it), and for each delivery while it is paused
 * (a resume may come at any time). A change made elsewhere meanwhile (a pause through the API)
 * reaches the batch's next read, as it reaches the next batch.
 */
class ConnectionReads {
  private readonly known = new Map<string, Connection>();

  constructor(private readonly read: ConnectionReader) {}

  readonly reader: ConnectionReader = async (id) => {
    const seen = this.known.get(id);
    if (seen) return seen;
    const connection = await this.read(id);
    if (connection && !holdsDeliveries(connection)) this.known.set(id, connection);
    return connection;
  };

  /** After a delivery of the connection that did not apply. */
  forget(id: string): void {
    this.known.delete(id);
  }
}

/**
 * Applies one received delivery to the record store through the pull pipeline (a one-record page),
 * so hashing, change detection, counters and tombstones are exactly those of a sync run.
 * The step id is derived from the delivery (and replay number): a redelivered message finds its own
 * write and does nothing twice.
 */
export class WebhookApplier {
  constructor(
    private readonly platform: Platform,
    private readonly adapters: AdapterRegistry,
    private readonly customRules: CustomMergeRules = new CustomMergeRules(),
    /** The run steps' retry policy (services.engine.retry), for provider calls that fail. */
    private readonly retry: RetryPolicy = retryPolicy(),
    /** Jitter of retry delays. Default Math.random. */
    private readonly random: () => number = Math.random,
    /** Where delivery rows are read and settled. Default the platform's delivery log. */
    private readonly log: AppliedDeliveryLog = platform.deliveries,
  ) {}

  async apply(message: WebhookInboundMessage, options: ApplyOptions = {}): Promise<ApplyOutcome> {
    return this.applyReading(message, options, (id) => this.platform.connections.get(id));
  }

  /** `apply`, with the connection read through `readConnection` (applyBatch reads it once per batch). */
  private async applyReading(message: WebhookInboundMessage, options: ApplyingOptions, readConnection: ConnectionReader): Promise<ApplyOutcome> {
    const { platform } = this;
    const delivery = await this.log.get(message.deliveryId);
    if (!delivery) {
      // Nothing to apply, and nothing to record it in: say so, or the event is lost unseen.
      platform.telemetry.log('warn', 'Webhook delivery skipped: it is no longer in the delivery log.', { deliveryId: message.deliveryId, connectionId: message.connectionId });
      platform.telemetry.metric('WebhookDeliveriesSkipped', 1, { connectionId: message.connectionId });
      return 'skipped';
    }
    if (supersededByReplay(delivery, message)) {
      platform.telemetry.log('info', 'Webhook message skipped: the delivery was replayed since.', { deliveryId: delivery.id, connectionId: delivery.connectionId, replay: message.replay ?? 0, replays: delivery.replays, status: delivery.status });
      return 'skipped';
    }
    if (settledByThisMessage(delivery, options.messageSequence)) {
      platform.telemetry.log('info', 'Webhook message delivered again: its delivery was settled by it before, and stays as it is.', { deliveryId: delivery.id, connectionId: delivery.connectionId, status: delivery.status });
      return delivery.status as ApplyOutcome;
    }
    try {
      return await this.applyDelivery(delivery, message, readConnection, options);
    } catch (error) {
      if (options.taken?.failsBatch?.(error) === true) throw error;
      return this.onInternalFailure(delivery, message, error, options);
    }
  }

  /**
   * A batch of one connection's deliveries, in order, each exactly as its own `webhook` message
   * would be applied (a replay since, a held connection, a failure: all per delivery), the
   * connection read as ConnectionReads says. A throw (only when even recording a failure failed)
   * leaves the batch to the broker; applying again what was already applied writes nothing new.
   * Returns how many ended how.
   */
  async applyBatch(message: WebhookBatchInboundMessage, options: ApplyOptions = {}): Promise<Partial<Record<ApplyOutcome, number>>> {
    const outcomes: Partial<Record<ApplyOutcome, number>> = {};
    const reads = new ConnectionReads((id) => this.platform.connections.get(id));
    for (const deliveryId of message.deliveryIds) {
      const outcome = await this.applyReading({ kind: 'webhook', connectionId: message.connectionId, deliveryId }, options, reads.reader);
      if (outcome !== 'applied') reads.forget(message.connectionId);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    return outcomes;
  }

  /**
   * Applies deliveries taken just now whose rows are not written yet (the local journal drain's
   * direct apply, shared/platform/local/journalApply.ts), in order, each as its own `webhook`
   * message would be, without a message: read and settled in `log` (a DeliveryLogBuffer, so each
   * row is then written once, with its outcome), each in the trace its intake ran in. No
   * provider is called: a delivery that needs a call (an id-only event's fetch) is returned in
   * `deferred` with nothing of it written, and so is every later delivery of its connection, so
   * that the worker applies them after it, in order; so are all of a connection the caller says
   * is `behind`. Our own failure of one delivery is retried by a scheduled message as in `apply`;
   * an error the caller says `failsBatch` throws, as does a failure that cannot even be recorded:
   * what was written of the batch stays, and applying it again writes nothing new.
   */
  async applyTaken(taken: readonly TakenDelivery[], log: AppliedDeliveryLog, batch: TakenBatchOptions = {}): Promise<{ outcomes: Partial<Record<ApplyOutcome, number>>; deferred: Delivery[] }> {
    const applier = new WebhookApplier(this.platform, this.adapters, this.customRules, this.retry, this.random, log);
    const outcomes: Partial<Record<ApplyOutcome, number>> = {};
    const deferred: Delivery[] = [];
    // Connections whose deliveries go to the worker: behind earlier ones there, or behind one deferred here.
    const waiting = new Set<string>(batch.behind);
    const options: ApplyingOptions = { taken: { failsBatch: batch.failsBatch } };
    const reads = new ConnectionReads((id) => this.platform.connections.get(id));
    for (const { delivery, traceparent } of taken) {
      const { connectionId } = delivery;
      let outcome: ApplyOutcome = 'deferred';
      if (!waiting.has(connectionId)) {
        const message: WebhookInboundMessage = { kind: 'webhook', connectionId, deliveryId: delivery.id };
        outcome = await runInTrace(traceparent, () => applier.applyReading(message, options, reads.reader));
      }
      if (outcome === 'deferred') {
        waiting.add(connectionId);
        deferred.push(delivery);
      }
      if (outcome !== 'applied') reads.forget(connectionId);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    return { outcomes, deferred };
  }

  /**
   * Our own failure (a store error, a bug), by the rule run steps follow too (planInternalRetry,
   * runs/internalRetry.ts). Retried like a provider's transient failure: the
   * current message completes and a scheduled one (attempt n, exponential backoff with jitter from
   * the retry policy) tries again, so a store that is down for a few seconds does not use up the
   * broker's ten immediate redeliveries in milliseconds. Bounded by the queue's delivery count
   * (MAX_DELIVERY_COUNT tries in all, counting the fetch retries' attempts): on the last try, or
   * on the broker's last delivery, the delivery is marked failed with a reason that quotes nothing
   * of the error, and counted once in health. Only when even that, or the retry's send, cannot be
   * written is the error thrown, leaving the message to the broker (redelivery, then dead letter).
   */
  private async onInternalFailure(delivery: Delivery, message: WebhookInboundMessage, error: unknown, options: ApplyOptions): Promise<ApplyOutcome> {
    const { platform } = this;
    const now = platform.clock.now();
    const plan = planInternalRetry({ attemptsBefore: message.attempt ?? 0, finalDelivery: options.finalDelivery === true, policy: this.retry, now, random: this.random });
    const { attempt } = plan;
    platform.telemetry.exception(error, { deliveryId: delivery.id, connectionId: delivery.connectionId, attempt });
    if (plan.kind === 'give_up') {
      try {
        return await this.finish(delivery, options, 'failed', INTERNAL_FAILURE);
      } catch {
        throw error;
      }
    }
    const { at } = plan;
    // What it waits for, if the store takes the write: the store may be what failed.
    await this.log
      .update(delivery.id, { status: 'received', detail: internalRetryDetail(at, attempt) }, now.toISOString())
      .catch(() => undefined);
    try {
      await this.sendRetry(delivery, { ...message, attempt }, at);
    } catch {
      throw error;
    }
    platform.telemetry.log('info', 'Webhook delivery rescheduled after an internal error.', { deliveryId: delivery.id, connectionId: delivery.connectionId, at: at.toISOString(), attempt });
    return 'rescheduled';
  }

  private async applyDelivery(delivery: Delivery, message: WebhookInboundMessage, readConnection: ConnectionReader, options: ApplyingOptions): Promise<ApplyOutcome> {
    const { platform } = this;
    const connection = await readConnection(delivery.connectionId);
    if (!connection) return this.finish(delivery, options, 'ignored', 'The connection no longer exists.');
    if (holdsDeliveries(connection) && (await this.hold(delivery))) return 'held';
    // Signed by another provider's scheme than the connection's: acknowledged and logged, not applied.
    if (delivery.provider !== connection.provider || !this.adapters.names().includes(delivery.provider)) {
      return this.finish(delivery, options, 'ignored', `${connection.id} is a ${connection.provider} connection: SyncBridge has no adapter for ${delivery.provider} events on it.`);
    }
    // The real providers' events (GitHub, Stripe, Shopify, Slack, Notion, Google, Microsoft 365, Salesforce).
    const parser = providerEventParser(delivery.provider);
    if (parser) return this.applyProviderEvent(delivery, connection, parser, message, options);

    const event = JSON.parse(delivery.body) as unknown;
    const data = isObject(event) ? event.data : undefined;
    const match = isObject(event) && typeof event.type === 'string' ? EVENT_TYPE.exec(event.type) : null;
    if (!match || !isObject(data)) return this.finish(delivery, options, 'ignored', 'Not a record event (<entity>.created|updated|deleted with data).');
    const entity = match[1];
    if (data.entity !== undefined && data.entity !== entity) return this.finish(delivery, options, 'ignored', `data.entity "${String(data.entity)}" does not match the event type.`);
    if (!pulls(connection, entity)) return this.finish(delivery, options, 'ignored', `The connection does not pull ${entity}.`);
    if (options.taken !== undefined && idToFetch(data) !== undefined) return 'deferred';

    let record: ProviderRecord;
    try {
      record = await this.recordOf(connection, delivery, entity, data, match[2] === 'deleted');
    } catch (error) {
      return this.onFetchFailure(delivery, message, error, options);
    }
    if (record.externalId === '' || record.externalId === 'undefined') {
      return this.finish(delivery, options, 'ignored', 'The event names no record id.');
    }

    const scope = { tenantId: connection.tenantId, connectionId: connection.id, entity };
    record = { ...record, updatedAt: eventTime(record.updatedAt, record.deleted, delivery) };
    // A replay or a late retry may carry an older state than the store has: never let it roll a record back.
    // The state read for that is the one the page is planned on (one read per delivery).
    const states = await platform.records.getStates(scope, [record.externalId]);
    const stale = await staleReason(this.log, delivery, record.updatedAt, states.get(record.externalId));
    if (stale) return this.finish(delivery, options, 'ignored', stale);
    const stepId = `webhook:${delivery.id}${message.replay ? `:r${message.replay}` : ''}`;
    const result = await applyPage({
      records: platform.records,
      scope,
      runId: stepId,
      stepId,
      mode: 'incremental',
      keepDeletionTimes: true,
      page: [record],
      states,
      now: platform.clock.now().toISOString(),
      mergePolicy: (connection.config.mergePolicy as Record<string, EntityMergePolicy> | undefined)?.[entity],
      customRules: this.customRules,
      remoteOrigin: connection.provider,
    });
    await settleParkedPushes(platform, result.settledPushes);
    if (result.rejected.length > 0) return this.finish(delivery, options, 'failed', `The record failed validation: ${result.rejected[0].reasons.join(' ')}`);
    platform.telemetry.metric('WebhookRecordsApplied', result.writes, { connectionId: connection.id, entity });
    return this.finish(delivery, options, 'applied', undefined);
  }

  /**
   * A real provider's event: its record changes, applied per entity through the pipeline. Entities
   * the connection does not pull, stale states and id-only events that cannot be fetched are noted
   * in the delivery log; a delivery none of whose changes apply is `ignored` with those notes.
   */
  private async applyProviderEvent(delivery: Delivery, connection: Connection, parser: ProviderEventParser, message: WebhookInboundMessage, options: ApplyingOptions): Promise<ApplyOutcome> {
    const parsed = parser({ headers: new Headers(delivery.headers), body: delivery.body });
    if ('ignored' in parsed) return this.finish(delivery, options, 'ignored', parsed.ignored);
    const notes: string[] = [];
    const byEntity = new Map<string, RecordChange[]>();
    for (const change of parsed.changes) byEntity.set(change.entity, [...(byEntity.get(change.entity) ?? []), change]);
    const webhookOnly = this.adapters.get(connection.provider).webhookOnly === true;
    if (options.taken !== undefined && !webhookOnly && parsed.changes.some((change) => change.kind === 'fetch' && pulls(connection, change.entity))) return 'deferred';
    let applied = 0;
    for (const [entity, changes] of byEntity) {
      if (!pulls(connection, entity)) {
        notes.push(`The connection does not pull ${entity}.`);
        continue;
      }
      const scope = { tenantId: connection.tenantId, connectionId: connection.id, entity };
      const page = new Map<string, ProviderRecord>();
      // Each record's stored state, read once: judged for order here, planned on in applyPage.
      const states = new Map<string, RecordState>();
      for (const change of changes) {
        let record: ProviderRecord | null;
        if (change.kind === 'fetch') {
          if (webhookOnly) {
            notes.push(`${entity} ${change.externalId}: the event carries no content, and fetching it needs a ${connection.provider} pull client, which SyncBridge does not have yet.`);
            continue;
          }
          try {
            record = (await (await this.fetchingAdapter(connection, delivery)).getRecord(entity, change.externalId)) ?? { externalId: change.externalId, updatedAt: null, deleted: true, data: {} };
          } catch (error) {
            return this.onFetchFailure(delivery, message, error, options);
          }
        } else {
          const deleted = change.kind === 'delete';
          record = { externalId: change.externalId, updatedAt: eventTime(change.updatedAt, deleted, delivery), deleted, data: change.kind === 'upsert' ? change.data : {} };
        }
        if (!states.has(record.externalId)) for (const [id, state] of await this.platform.records.getStates(scope, [record.externalId])) states.set(id, state);
        const stale = await staleReason(this.log, delivery, record.updatedAt, states.get(record.externalId));
        if (stale) {
          notes.push(`${entity} ${record.externalId}: ${stale}`);
          continue;
        }
        page.set(record.externalId, record); // the last change of a record in one delivery wins
      }
      if (page.size === 0) continue;
      const stepId = `webhook:${delivery.id}:${entity}${message.replay ? `:r${message.replay}` : ''}`;
      const result = await applyPage({
        records: this.platform.records,
        scope,
        runId: stepId,
        stepId,
        mode: 'incremental',
        keepDeletionTimes: true,
        page: [...page.values()],
        states,
        now: this.platform.clock.now().toISOString(),
        mergePolicy: (connection.config.mergePolicy as Record<string, EntityMergePolicy> | undefined)?.[entity],
        customRules: this.customRules,
        remoteOrigin: connection.provider,
      });
      await settleParkedPushes(this.platform, result.settledPushes);
      for (const rejected of result.rejected) notes.push(`${entity} ${rejected.externalId} failed validation: ${rejected.reasons.join(' ')}`);
      applied += page.size - result.rejected.length;
      this.platform.telemetry.metric('WebhookRecordsApplied', result.writes, { connectionId: connection.id, entity });
    }
    if (applied === 0) return this.finish(delivery, options, 'ignored', notes.join(' ') || 'Nothing to apply.');
    return this.finish(delivery, options, 'applied', notes.length > 0 ? notes.join(' ') : undefined);
  }

  /**
   * Marks the delivery held (its connection is paused), completing its message: the resume
   * enqueues it again from the log. The connection is read again after the write: a resume that
   * listed the held deliveries just before it would not see this one, so if the connection is no
   * longer paused the delivery is applied now instead (returns false). Both may happen — a
   * resume that listed it after the write enqueues it too — and a second apply writes nothing new.
   * Neither may happen when reads are stale (Cosmos DB at Session consistency): the resume's held
   * sweep, HELD_SWEEP_DELAY_MS later, releases it then (heldDeliveries.ts, sweepHeld).
   */
  private async hold(delivery: Delivery): Promise<boolean> {
    const { platform } = this;
    await this.log.update(delivery.id, { status: 'held', detail: heldDeliveryReason(delivery.connectionId) }, platform.clock.now().toISOString());
    const now = await platform.connections.get(delivery.connectionId);
    if (now && holdsDeliveries(now)) {
      platform.telemetry.log('info', 'Webhook delivery held: its connection is paused.', { deliveryId: delivery.id, connectionId: delivery.connectionId });
      return true;
    }
    await this.log.update(delivery.id, { status: 'received', detail: undefined }, platform.clock.now().toISOString());
    return false;
  }

  /** The event's record, or for id-only events the provider's current one (gone → a tombstone). */
  private async recordOf(connection: Connection, delivery: Delivery, entity: string, data: JsonObject, deleted: boolean): Promise<ProviderRecord> {
    if (isObject(data.record)) return toProviderRecord(data.record, deleted);
    const id = idToFetch(data);
    if (id === undefined) return { externalId: '', updatedAt: null, deleted: false, data: {} };
    const adapter = await this.fetchingAdapter(connection, delivery);
    const fetched = await adapter.getRecord(entity, id);
    return fetched ?? { externalId: id, updatedAt: null, deleted: true, data: {} };
  }

  /**
   * The adapter for an id-only event's fetch. A connection parked for reauthorization is refused
   * here, before any provider call: its token was refused (or cannot be renewed), so the fetch
   * would only fail again; the delivery fails with what to do (awaitingReauthorization).
   */
  private async fetchingAdapter(connection: Connection, delivery: Delivery): Promise<ProviderAdapter> {
    if (connection.status === 'reauthorization_required') throw new SyncBridgeError('auth_failed', awaitingReauthorization(connection.id, delivery.id));
    return adapterFor(this.platform, this.adapters, connection);
  }

  /**
   * A provider failure while fetching. Transient and rate-limited ones are retried by a scheduled
   * message (fetchRetry.ts) while the delivery stays `received`, its detail saying what it waits
   * for; the current message completes. A failure a retry cannot fix, or the last retry's, marks
   * the delivery failed and counts one failure in health. Anything else is ours: thrown.
   */
  private async onFetchFailure(delivery: Delivery, message: WebhookInboundMessage, error: unknown, options: ApplyOptions): Promise<ApplyOutcome> {
    const { platform } = this;
    const plan = planFetchFailure(error, message, this.retry, platform.clock.now(), this.random);
    if (plan.kind === 'internal') throw error;
    if (plan.kind === 'failed') {
      // The 401 that parked the connection (its refresh refused) fails the delivery with the same
      // words as the fetches refused after it, which say to reconnect and replay.
      const parked = isSyncBridgeError(error, 'auth_failed') && (await platform.connections.get(delivery.connectionId))?.status === 'reauthorization_required';
      return this.finish(delivery, options, 'failed', parked ? awaitingReauthorization(delivery.connectionId, delivery.id) : plan.reason);
    }
    await this.log.update(delivery.id, { status: 'received', detail: plan.detail }, platform.clock.now().toISOString());
    platform.telemetry.log('info', 'Webhook delivery rescheduled.', { deliveryId: delivery.id, connectionId: delivery.connectionId, at: plan.at.toISOString(), reason: plan.detail });
    await this.sendRetry(delivery, plan.message, plan.at);
    return 'rescheduled';
  }

  /** A retry of this delivery, scheduled for `at`, in its connection's session. */
  private async sendRetry(delivery: Delivery, retry: WebhookInboundMessage, at: Date): Promise<void> {
    const traceparent = currentTraceparent();
    await this.platform.queue.send(QUEUES.inbound, {
      body: retry,
      messageId: webhookMessageId(retry),
      sessionId: delivery.connectionId,
      scheduledEnqueueTime: at,
      // The retry stays in the trace of the delivery it retries.
      applicationProperties: { kind: 'webhook', deliveryId: delivery.id, ...(traceparent ? { traceparent } : {}) },
    });
  }

  /** Settles the delivery, noting the broker message that settled it (`settledBy`, supersededMessage.ts). */
  private async finish(delivery: Delivery, options: ApplyOptions, status: 'applied' | 'ignored' | 'failed', detail: string | undefined): Promise<ApplyOutcome> {
    const now = this.platform.clock.now().toISOString();
    await this.log.update(delivery.id, { status, detail, settledBy: options.messageSequence }, now);
    if (status === 'failed') {
      await this.log.recordHealth(delivery.connectionId, 'failed', now, detail);
      this.platform.telemetry.log('warn', 'Webhook delivery failed.', { deliveryId: delivery.id, connectionId: delivery.connectionId, reason: detail ?? '' });
    }
    return status;
  }
}
