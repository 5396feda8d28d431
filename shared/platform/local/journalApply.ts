import type { AppliedDeliveryLog, ApplyOutcome, TakenBatchOptions, TakenDelivery } from '../../core/webhookIntake/applier';
import { DeliveryLogBuffer } from '../../core/webhookIntake/deliveryLogBuffer';
import { WEBHOOK_MESSAGE_ID_PREFIXES } from '../../core/runs/inboundMessage';
import type { IntakeEntry } from '../../ports/deliveryIntake';
import { TurnBatchedIntake, type PendingIntake as Pending } from '../../core/webhookIntake/turnBatchedIntake';
import type { Delivery } from '../../ports/deliveryStore';
import { QUEUES, type OutgoingMessage, type QueueSender } from '../../ports/queue';
import type { Telemetry } from '../../ports/telemetry';
import type { SqliteDeliveryStore } from './sqliteDeliveryStore';
import type { SqliteIdempotencyStore } from './sqliteIdempotencyStore';
import type { SqliteQueue } from './sqliteQueue';
import type { TurnCommit } from './turnCommit';

/**
 * Applies deliveries taken just now, reading and settling their rows in `log`
 * (WebhookApplier.applyTaken); returns those that need the worker, which go to it in a message.
 */
export type ApplyTaken = (
  taken: readonly TakenDelivery[],
  log: AppliedDeliveryLog,
  batch: TakenBatchOptions,
) => Promise<{ outcomes: Partial<Record<ApplyOutcome, number>>; deferred: Delivery[] }>;

export interface JournalApplyOptions {
  claims: Pick<SqliteIdempotencyStore, 'peekMany' | 'claimManyCompleted'>;
  deliveries: Pick<SqliteDeliveryStore, 'insertMany' | 'storedIds'> & AppliedDeliveryLog;
  queue: QueueSender & Pick<SqliteQueue, 'hasDueInSession'>;
  /** The database handle's turn commit: the batch holds the write lock from its first read, and notices a rollback. */
  turn: Pick<TurnCommit, 'begin' | 'rollbacks'>;
  telemetry: Pick<Telemetry, 'log' | 'metric'>;
  apply: ApplyTaken;
  /** Errors that fail the whole batch (tried again by the drain) rather than one delivery: the store being busy. */
  failsBatch: (error: unknown) => boolean;
  /** The messages for deferred deliveries, in order (the local platform's one batch per connection). */
  messagesFor: (entries: readonly IntakeEntry[]) => OutgoingMessage[];
  /** How long a taken key is a duplicate. */
  dedupeTtlMs: number;
  /** Deliveries per flush. Default 512 (the drain's batch). */
  maxBatch?: number;
}

function traceparentOf(message: OutgoingMessage): string | undefined {
  const value = message.applicationProperties?.traceparent;
  return typeof value === 'string' ? value : undefined;
}

/**
 * The journal drain's intake on the local host's applier thread (docs/webhook-intake.md "Direct
 * apply"): the deliveries of a drained batch are applied at once, instead of logged `received`,
 * enqueued, received from the queue, read back and settled. For each batch, in one event-loop
 * turn, holding SQLite's write lock from its first read (so nothing another thread or process
 * writes, a connection paused or resumed, can fall between what it reads and what it writes;
 * the one exception is the early commit below, after which the lock is taken again at the next
 * write):
 * 1. duplicates are told apart by the claims already stored (one read for the batch);
 * 2. the new deliveries are applied in journal order (WebhookApplier.applyTaken), the rows not
 *    stored yet settled in memory;
 * 3. those rows are inserted, each once, with its outcome;
 * 4. those that need the worker go to it in a message, as the group commit sends them all: an
 *    id-only event (its fetch must not hold the write lock) and every later delivery of its
 *    connection, and every delivery of a connection that has earlier ones waiting there;
 * 5. health counts are written, and their claims, taken and completed at once.
 * The turn commits early only for the first record of a connection or entity a process meets
 * (RecordScopeKeys); claims come last, so that even a batch cut short in the middle leaves nothing
 * that would drop a delivery: read again, it is new, and applying again what was applied writes
 * nothing new (the step id of a delivery is its own). A failure, or a rollback of the turn by
 * SQLite, fails the batch's callers, and the drain tries the batch again later.
 */
export class JournalDirectApply extends TurnBatchedIntake {
  constructor(private readonly options: JournalApplyOptions) {
    super(options.maxBatch ?? 512);
  }

  protected async flush(batch: Pending[]): Promise<void> {
    const { claims, deliveries, queue, turn, apply, messagesFor, telemetry } = this.options;
    const fresh: Pending[] = [];
    // The same delivery twice in one batch: the later mention follows the first one's fate.
    const followers = new Map<string, Pending[]>();
    let rollbacks: number;
    try {
      turn.begin();
      rollbacks = turn.rollbacks;
      const firsts: Pending[] = [];
      for (const p of batch) {
        const first = followers.get(p.claimKey);
        if (first) first.push(p);
        else {
          followers.set(p.claimKey, []);
          firsts.push(p);
        }
      }
      const claimed = claims.peekMany(firsts.map((p) => p.claimKey));
      for (const p of firsts) {
        const claim = claimed.get(p.claimKey);
        if (claim === undefined) {
          fresh.push(p);
          continue;
        }
        const outcome = claim === 'completed' ? 'duplicate' : 'in_progress';
        p.done(outcome);
        for (const f of followers.get(p.claimKey)!) f.done(outcome);
      }
    } catch (error) {
      for (const p of batch) p.fail(error);
      return;
    }
    if (fresh.length === 0) return;
    try {
      const stored = deliveries.storedIds(fresh.map((p) => p.delivery.id));
      const log = new DeliveryLogBuffer(deliveries, fresh.filter((p) => !stored.has(p.delivery.id)).map((p) => p.delivery));
      const connections = new Set(fresh.map((p) => p.delivery.connectionId));
      const behind = new Set([...connections].filter((id) => queue.hasDueInSession(QUEUES.inbound, id, { messageIdPrefixes: WEBHOOK_MESSAGE_ID_PREFIXES })));
      const { deferred } = await apply(
        fresh.map((p) => ({ delivery: p.delivery, traceparent: traceparentOf(p.message) })),
        log,
        { behind, failsBatch: this.options.failsBatch },
      );
      await deliveries.insertMany(log.rows());
      const toWorker = new Set(deferred.map((d) => d.id));
      if (toWorker.size > 0) await queue.send(QUEUES.inbound, messagesFor(fresh.filter((p) => toWorker.has(p.delivery.id))));
      for (const count of log.healthCounts()) await deliveries.recordHealth(...count);
      if (turn.rollbacks !== rollbacks) throw new Error('SQLite rolled the webhook journal drain\'s transaction back while it applied a batch; the batch is tried again.');
      // Each claim holds its delivery's id: a duplicate of it is answered with that id (JournalIntake.deliveryIdOf).
      const taken = claims.claimManyCompleted(fresh.map((p) => ({ key: p.claimKey, result: p.delivery.id })), this.options.dedupeTtlMs);
      const lost = taken.filter((t) => !t).length;
      if (lost > 0) telemetry.log('warn', 'Webhook deliveries applied by the journal drain were claimed by another writer meanwhile; they may be applied twice, which writes nothing new.', { count: lost });
      // Receipt to applied, for the batch's oldest delivery applied here (the worker's QueueLagMs covers the rest).
      const applied = fresh.filter((p) => !toWorker.has(p.delivery.id));
      if (applied.length > 0) telemetry.metric('WebhookApplyLagMs', Math.max(0, Date.now() - Math.min(...applied.map((p) => Date.parse(p.delivery.receivedAt)))), { path: 'direct' });
    } catch (error) {
      for (const p of fresh) {
        p.fail(error);
        for (const f of followers.get(p.claimKey) ?? []) f.fail(error);
      }
      return;
    }
    for (const p of fresh) {
      p.done('accepted');
      for (const f of followers.get(p.claimKey) ?? []) f.done('duplicate');
    }
  }
}
