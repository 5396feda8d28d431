import type { AppliedDeliveryLog, TakenDelivery } from '../../core/webhookIntake/applier';
import { DeliveryLogBuffer } from '../../core/webhookIntake/deliveryLogBuffer';
import type { DeliveryIntake, IntakeEntry, IntakeOutcome } from '../../ports/deliveryIntake';
import type { Delivery, DeliveryStore } from '../../ports/deliveryStore';
import { QUEUES, type OutgoingMessage, type QueueSender } from '../../ports/queue';
import type { Telemetry } from '../../ports/telemetry';
import type { SqliteIdempotencyStore } from './sqliteIdempotencyStore';

/**
 * Applies deliveries taken just now, rows not written yet, reading and settling them in `log`
 * (WebhookApplier.applyTaken); returns those that need a provider call, which go to the worker
 * in a message.
 */
export type ApplyTaken = (taken: readonly TakenDelivery[], log: AppliedDeliveryLog) => Promise<{ deferred: Delivery[] }>;

export interface JournalApplyOptions {
  claims: Pick<SqliteIdempotencyStore, 'peek' | 'claimManyCompleted'>;
  deliveries: Pick<DeliveryStore, 'insertMany'> & AppliedDeliveryLog;
  queue: QueueSender;
  telemetry: Pick<Telemetry, 'log'>;
  apply: ApplyTaken;
  /** The messages for deferred deliveries, in order (the local platform's one batch per connection). */
  messagesFor: (entries: readonly IntakeEntry[]) => OutgoingMessage[];
  /** How long a taken key is a duplicate. */
  dedupeTtlMs: number;
  /** Deliveries per flush. Default 512 (the drain's batch). */
  maxBatch?: number;
}

/** What a claim holds once its delivery was taken here. */
const TAKEN = 'taken';

function traceparentOf(message: OutgoingMessage): string | undefined {
  const value = message.applicationProperties?.traceparent;
  return typeof value === 'string' ? value : undefined;
}

interface Pending extends IntakeEntry {
  done: (outcome: IntakeOutcome) => void;
  fail: (error: unknown) => void;
}

/**
 * The journal drain's intake on the local host's applier thread (docs/webhook-intake.md "Direct
 * apply"): the deliveries of a drained batch are applied at once, instead of logged `received`,
 * enqueued, received from the queue, read back and settled. For each batch, in one event-loop
 * turn and so in one transaction (turnCommit.ts; the first record of a connection or entity
 * never seen before commits the turn early, once, RecordScopeKeys):
 * 1. duplicates are told apart by the claims already stored (a read);
 * 2. the new deliveries are applied in journal order (WebhookApplier.applyTaken), their rows
 *    settled in memory;
 * 3. their rows are inserted, each once, with its outcome;
 * 4. those that need a provider call (an id-only event's fetch, which must not hold the write
 *    lock) are sent to the worker in a message, as the group commit sends them all;
 * 5. their claims are written, taken and completed at once.
 * Claims come last, so that even a batch cut short in the middle leaves nothing that would drop
 * a delivery: read again, it is new, and applying again what was applied writes nothing new (the
 * step id of a delivery is its own). A failure fails the batch's callers, and the drain tries the
 * batch again later.
 */
export class JournalDirectApply implements DeliveryIntake {
  private pending: Pending[] = [];
  private scheduled = false;
  private readonly maxBatch: number;

  constructor(private readonly options: JournalApplyOptions) {
    this.maxBatch = options.maxBatch ?? 512;
  }

  write(entry: IntakeEntry): Promise<IntakeOutcome> {
    return new Promise<IntakeOutcome>((done, fail) => {
      this.pending.push({ ...entry, done, fail });
      if (this.pending.length >= this.maxBatch) void this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const { claims, deliveries, queue, apply, messagesFor, telemetry } = this.options;
    const fresh: Pending[] = [];
    // The same delivery twice in one batch: the later mention follows the first one's fate.
    const followers = new Map<string, Pending[]>();
    try {
      for (const p of batch) {
        const first = followers.get(p.claimKey);
        if (first) {
          first.push(p);
          continue;
        }
        const claim = claims.peek(p.claimKey);
        if (claim === 'free') {
          fresh.push(p);
          followers.set(p.claimKey, []);
        } else p.done(claim === 'completed' ? 'duplicate' : 'in_progress');
      }
    } catch (error) {
      for (const p of batch) p.fail(error);
      return;
    }
    if (fresh.length === 0) return;
    try {
      const log = new DeliveryLogBuffer(deliveries, fresh.map((p) => p.delivery));
      const { deferred } = await apply(
        fresh.map((p) => ({ delivery: p.delivery, traceparent: traceparentOf(p.message) })),
        log,
      );
      await deliveries.insertMany(log.rows());
      if (deferred.length > 0) {
        const ids = new Set(deferred.map((d) => d.id));
        await queue.send(QUEUES.inbound, messagesFor(fresh.filter((p) => ids.has(p.delivery.id))));
      }
      const taken = claims.claimManyCompleted(fresh.map((p) => p.claimKey), TAKEN, this.options.dedupeTtlMs);
      const lost = taken.filter((t) => !t).length;
      if (lost > 0) telemetry.log('warn', 'Webhook deliveries applied by the journal drain were claimed by another writer meanwhile; they may be applied twice, which writes nothing new.', { count: lost });
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
