import type { Delivery } from '../../ports/deliveryStore';
import type { Platform } from '../../ports/platform';
import { QUEUES, type OutgoingMessage } from '../../ports/queue';

/** One verified delivery waiting for its batch: the key that de-duplicates it, its log row and its message. */
export interface IntakeEntry {
  claimKey: string;
  delivery: Delivery;
  message: OutgoingMessage;
}

export type IntakeOutcome = 'accepted' | 'duplicate';

interface Pending extends IntakeEntry {
  done: (outcome: IntakeOutcome) => void;
  fail: (error: unknown) => void;
}

/**
 * Group commit for verified deliveries: the requests that arrive in the same event-loop turn are
 * de-duplicated with one claim call, logged with one write and enqueued with one send, instead of
 * three writes per delivery. Every caller still waits until its own delivery is durable (or known
 * to be a duplicate). When the log write or the send fails, the batch's claims are released and
 * every caller in it sees the failure (and answers 5xx, so the provider retries). A retry is
 * harmless: the delivery id and message id are deterministic, the log keeps the first row and the
 * broker drops the duplicate message.
 */
export class IntakeGroupCommit {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly platform: Platform,
    private readonly dedupeTtlMs: number,
    private readonly maxBatch = 256,
  ) {}

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
    const { idempotency, deliveries, queue } = this.platform;
    let fresh: Pending[];
    try {
      const claims = await idempotency.claimMany(batch.map((p) => p.claimKey), this.dedupeTtlMs);
      fresh = batch.filter((_, i) => claims[i].claimed);
      batch.forEach((p, i) => {
        if (!claims[i].claimed) p.done('duplicate');
      });
    } catch (error) {
      for (const p of batch) p.fail(error);
      return;
    }
    if (fresh.length === 0) return;
    try {
      await deliveries.insertMany(fresh.map((p) => p.delivery));
      await queue.send(QUEUES.inbound, fresh.map((p) => p.message));
      for (const p of fresh) p.done('accepted');
    } catch (error) {
      // Not enqueued: forget the claims so that the providers' retries are accepted, not dropped.
      await Promise.all(fresh.map((p) => idempotency.release(p.claimKey).catch(() => undefined)));
      for (const p of fresh) p.fail(error);
    }
  }
}
