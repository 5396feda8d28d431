import type { Clock } from '../../ports/clock';
import type { Lease, LeaseStore } from '../../ports/leaseStore';

/**
 * A lease renewed in the background, every third of its TTL, until `release`. For work nobody
 * bounds in time: writing a rotated credential to Key Vault, whose SDK retries 429s for as long as
 * Retry-After says. Renewing once before such work is not enough: if the work outlasts the TTL,
 * another instance takes the lease while the work is still going to land.
 *
 * Renewals never overlap (Cosmos renews with If-Match, so two at once would make one look like a
 * lost lease). A renewal that finds the lease gone sets `lost` and stops renewing; one that throws
 * (the lease store unreachable) is tried again at the next tick, and `held()` turns false once the
 * last known expiry has passed.
 */
export class KeptLease {
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private lostLease = false;

  constructor(
    private readonly store: LeaseStore,
    private current: Lease,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {
    this.schedule();
  }

  get lease(): Lease {
    return this.current;
  }

  /** Whether the lease is still ours as far as we know: no renewal found it gone and it has not expired. */
  held(): boolean {
    return !this.lostLease && Date.parse(this.current.expiresAt) > this.clock.now().getTime();
  }

  /** Renews now (after any renewal under way); false when the lease is no longer ours. Lease store errors propagate. */
  async renew(): Promise<boolean> {
    const run = this.renewing.then(() => this.renewOnce());
    this.renewing = run.catch(() => undefined);
    await run;
    return this.held();
  }

  /** Stops renewing, waits for a renewal under way, and frees the lease if it is still ours. */
  async release(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.renewing;
    await this.store.release(this.current);
  }

  private async renewOnce(): Promise<void> {
    if (this.lostLease || this.stopped) return;
    const renewed = await this.store.renew(this.current, this.ttlMs);
    if (renewed) this.current = renewed;
    else this.lostLease = true;
  }

  private schedule(): void {
    if (this.stopped || this.lostLease) return;
    this.timer = setTimeout(() => {
      this.renew().catch(() => undefined).finally(() => this.schedule());
    }, Math.max(1, Math.floor(this.ttlMs / 3)));
    this.timer.unref(); // a kept lease never holds the process open
  }
}
