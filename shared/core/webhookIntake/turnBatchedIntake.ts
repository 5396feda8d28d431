import type { DeliveryIntake, IntakeEntry, IntakeOutcome } from '../../ports/deliveryIntake';

/** A written entry and how to tell its caller what became of it. */
export interface PendingIntake extends IntakeEntry {
  done: (outcome: IntakeOutcome) => void;
  fail: (error: unknown) => void;
}

/**
 * A DeliveryIntake that takes the entries written in one event-loop turn (or `maxBatch` of them,
 * whichever comes first) together: `flush` gets them as one batch and settles each caller's
 * promise. IntakeGroupCommit and the local journal drain's JournalDirectApply build on it.
 */
export abstract class TurnBatchedIntake implements DeliveryIntake {
  private pending: PendingIntake[] = [];
  private scheduled = false;

  constructor(private readonly maxBatch: number) {}

  write(entry: IntakeEntry): Promise<IntakeOutcome> {
    return new Promise<IntakeOutcome>((done, fail) => {
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
