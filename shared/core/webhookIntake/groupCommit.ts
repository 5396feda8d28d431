import type { IntakeEntry } from '../../ports/deliveryIntake';
import type { Platform } from '../../ports/platform';
import { QUEUES, type OutgoingMessage } from '../../ports/queue';
import { deliveryIdIn, TurnBatchedIntake, type PendingIntake as Pending } from './turnBatchedIntake';

export type { IntakeEntry, IntakeOutcome } from '../../ports/deliveryIntake';

/**
 * Group commit for verified deliveries: the requests that arrive in the same event-loop turn are
 * de-duplicated with one claim call, logged with one write and enqueued with one send, instead of
 * three writes per delivery. Every caller still waits until its own delivery is durable (or known
 * to be a duplicate). When the log write or the send fails, the batch's claims are released and
 * every caller in it sees the failure (and answers 5xx, so the provider retries). A retry is
 * harmless: the delivery id and message id are deterministic, the log keeps the first row and the
 * broker drops the duplicate message.
 *
 * A claim is only a "duplicate" once its delivery is enqueued: it is taken for `inFlightTtlMs`
 * and completed (`enqueued`, kept for the whole dedupe window) after the send. A retry that finds
 * a claim not completed yet is told to come back (in_progress, 503), never "received before":
 * the first attempt may still fail. A claim whose release failed, or whose holder crashed before
 * sending, lapses after `inFlightTtlMs` instead of holding the delivery id for a day. (On the
 * local store all of it commits in one turn, so these windows do not open there; on Cosmos DB and
 * Service Bus they do.)
 */
export class IntakeGroupCommit extends TurnBatchedIntake {
  constructor(
    private readonly platform: Platform,
    private readonly dedupeTtlMs: number,
    maxBatch = 256,
    private readonly inFlightTtlMs = Math.min(60_000, dedupeTtlMs),
    /**
     * The messages to send for a batch's new deliveries, in order. Default: each entry's own. The
     * local journal drain sends one batch message per connection instead.
     */
    private readonly messagesFor: (entries: readonly IntakeEntry[]) => OutgoingMessage[] = (entries) => entries.map((e) => e.message),
  ) {
    super(maxBatch);
  }

  protected async flush(batch: Pending[]): Promise<void> {
    const { idempotency, deliveries, queue } = this.platform;
    let fresh: Pending[];
    // The same delivery twice in one batch: the later mention follows the first one's fate.
    const followers = new Map<string, Pending[]>();
    try {
      const claims = await idempotency.claimMany(batch.map((p) => p.claimKey), this.inFlightTtlMs);
      fresh = batch.filter((_, i) => claims[i].claimed);
      const claimedHere = new Set(fresh.map((p) => p.claimKey));
      batch.forEach((p, i) => {
        const claim = claims[i];
        if (claim.claimed) return;
        if (claimedHere.has(p.claimKey)) followers.set(p.claimKey, [...(followers.get(p.claimKey) ?? []), p]);
        else if (claim.result === undefined) p.done('in_progress');
        else p.done('duplicate', deliveryIdIn(claim.result));
      });
    } catch (error) {
      for (const p of batch) p.fail(error);
      return;
    }
    if (fresh.length === 0) return;
    try {
      await deliveries.insertMany(fresh.map((p) => p.delivery));
      await queue.send(QUEUES.inbound, this.messagesFor(fresh));
    } catch (error) {
      // Not enqueued: forget the claims so that the providers' retries are accepted, not dropped
      // (a release that fails too lapses with the claim, after inFlightTtlMs).
      await Promise.all(fresh.map((p) => idempotency.release(p.claimKey).catch(() => undefined)));
      for (const p of fresh) {
        p.fail(error);
        for (const f of followers.get(p.claimKey) ?? []) f.fail(error);
      }
      return;
    }
    // Enqueued: now a retry is a duplicate, for the whole dedupe window. Should this write fail,
    // the claim lapses and a retry enqueues again, which the broker's duplicate detection absorbs
    // within its window (past it, the applier judges the delivery again: its step stamp keeps the
    // record from being written twice); the delivery itself is safe, so the caller still gets its 202.
    await Promise.all(
      fresh.map((p) =>
        // The claim holds the delivery's id (before, the word 'enqueued'): a duplicate's answer can name it.
        idempotency.complete(p.claimKey, p.delivery.id, { ttlMs: this.dedupeTtlMs }).catch((error: unknown) => {
          this.platform.telemetry.log('warn', 'A webhook delivery was enqueued, but its duplicate claim could not be extended.', { reason: (error as Error).message });
        }),
      ),
    );
    for (const p of fresh) {
      p.done('accepted');
      for (const f of followers.get(p.claimKey) ?? []) f.done('duplicate', p.delivery.id);
    }
  }
}
