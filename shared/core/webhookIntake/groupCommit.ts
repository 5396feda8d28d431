import type { Delivery } from '../../ports/deliveryStore';
import type { Platform } from '../../ports/platform';
import { QUEUES, type OutgoingMessage } from '../../ports/queue';

interface Pending {
  delivery: Delivery;
  message: OutgoingMessage;
  done: () => void;
  fail: (error: unknown) => void;
}

/**
 * Group commit for accepted deliveries: the log rows and queue messages of requests that arrive in
 * the same event-loop turn are written with one log write and one queue send, instead of two
 * writes per delivery. Every caller still waits until its own delivery is durable; when a batch
 * fails, every caller in it sees the failure (and answers 5xx, so the provider retries). A retry
 * is harmless: the delivery id and message id are deterministic, the log keeps the first row and
 * the broker drops the duplicate message.
 */
export class IntakeGroupCommit {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly platform: Platform, private readonly maxBatch = 256) {}

  write(delivery: Delivery, message: OutgoingMessage): Promise<void> {
    return new Promise<void>((done, fail) => {
      this.pending.push({ delivery, message, done, fail });
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
    try {
      await this.platform.deliveries.insertMany(batch.map((p) => p.delivery));
      await this.platform.queue.send(QUEUES.inbound, batch.map((p) => p.message));
      for (const p of batch) p.done();
    } catch (error) {
      for (const p of batch) p.fail(error);
    }
  }
}
