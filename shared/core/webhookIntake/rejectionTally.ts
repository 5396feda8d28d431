import type { DeliveryIntake } from '../../ports/deliveryIntake';
import type { DeliveryStore } from '../../ports/deliveryStore';
import type { IsoTime } from '../model';

interface Tally {
  count: number;
  at: IsoTime;
  detail: string;
  waiters: Array<{ done: () => void; fail: (error: unknown) => void }>;
}

/**
 * Webhook health's rejection counts, one write per connection per event-loop turn: a sender
 * whose every delivery is refused (a secret it still signs with after a rotation, a flood of
 * forgeries) costs one store write per turn instead of one per request. On the local host with the
 * journal, the count goes into the journal instead (DeliveryIntake.recordRejections) and the
 * applier thread's drain writes it: a store write there may wait for that thread's write lock,
 * and would stall the thread that answers. Each caller still waits for its own count to be
 * taken, and hears if that fails.
 */
export class RejectionTally {
  private pending = new Map<string, Tally>();
  private scheduled = false;

  /** @param intake counts the rejections when it can (DeliveryIntake.recordRejections); else health is written here */
  constructor(private readonly deliveries: DeliveryStore, private readonly intake?: DeliveryIntake) {}

  record(connectionId: string, at: IsoTime, detail: string): Promise<void> {
    return new Promise<void>((done, fail) => {
      const tally = this.pending.get(connectionId);
      if (tally) {
        tally.count += 1;
        tally.at = at;
        tally.detail = detail;
        tally.waiters.push({ done, fail });
      } else {
        this.pending.set(connectionId, { count: 1, at, detail, waiters: [{ done, fail }] });
      }
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Map();
    await Promise.all(
      [...batch].map(async ([connectionId, tally]) => {
        try {
          if (this.intake?.recordRejections) await this.intake.recordRejections(connectionId, tally.count, tally.at, tally.detail);
          else await this.deliveries.recordHealth(connectionId, 'rejected', tally.at, tally.detail, tally.count);
          for (const w of tally.waiters) w.done();
        } catch (error) {
          for (const w of tally.waiters) w.fail(error);
        }
      }),
    );
  }
}
