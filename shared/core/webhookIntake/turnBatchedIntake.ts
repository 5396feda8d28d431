import type { DeliveryIntake, IntakeEntry, IntakeOutcome } from '../../ports/deliveryIntake';
import { DELIVERY_ID_PREFIX } from '../runs/inboundMessage';

/**
 * A written entry and how to tell its caller what became of it; a duplicate with the id of the
 * earlier delivery when known (a claim's result: deliveryIdIn).
 */
export interface PendingIntake extends IntakeEntry {
  done: (outcome: IntakeOutcome, originalId?: string) => void;
  fail: (error: unknown) => void;
}

/** The delivery id a completed claim holds, if it holds one (claims from before ordered ids hold a word). */
export function deliveryIdIn(result: unknown): string | undefined {
  return typeof result === 'string' && result.startsWith(DELIVERY_ID_PREFIX) ? result : undefined;
}

/**
 * A DeliveryIntake that takes the entries written in one event-loop turn (or `maxBatch` of them,
 * whichever comes first) together: `flush` gets them as one batch and settles each caller's
 * promise. IntakeGroupCommit and the local journal drain's JournalDirectApply build on it.
 */
export abstract class TurnBatchedIntake implements DeliveryIntake {
  private pending: PendingIntake[] = [];
  private scheduled = false;
  /** Entries answered `duplicate`, with the earlier delivery's id (deliveryIdOf); weak: nothing to forget. */
  private readonly duplicateOf = new WeakMap<IntakeEntry, string>();

  constructor(private readonly maxBatch: number) {}

  deliveryIdOf(entry: IntakeEntry): string | undefined {
    return this.duplicateOf.get(entry);
  }

  write(entry: IntakeEntry): Promise<IntakeOutcome> {
    return new Promise<IntakeOutcome>((resolve, fail) => {
      const done = (outcome: IntakeOutcome, originalId?: string) => {
        if (outcome === 'duplicate' && originalId !== undefined) this.duplicateOf.set(entry, originalId);
        resolve(outcome);
      };
      this.pending.push({ ...entry, done, fail });
      if (this.pending.length >= this.maxBatch) this.take();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.take());
      }
    });
  }

  /** Stores a batch; settles every entry of it (done or fail), never throws. */
  protected abstract flush(batch: PendingIntake[]): Promise<void>;

  private take(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) void this.flush(batch);
  }
}
