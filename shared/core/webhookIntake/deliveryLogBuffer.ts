import type { IsoTime } from '../model';
import type { Delivery, DeliveryStore } from '../../ports/deliveryStore';
import type { AppliedDeliveryLog } from './applier';

type DeliveryChange = Parameters<DeliveryStore['update']>[1];
type HealthCount = Parameters<DeliveryStore['recordHealth']>;

/**
 * The delivery log as WebhookApplier.applyTaken sees it while it applies deliveries whose rows
 * are not written yet (the local journal drain's direct apply): their rows are kept here, and
 * `get` and `update` of them read and change them in memory, so that each row is then inserted
 * once, with its outcome, instead of inserted `received` and updated. Rows already stored (a
 * batch tried again, a provider's resend past the dedupe window) are read and updated in the
 * store, as the worker would. Health counts are kept too, for the caller to write with the rows:
 * a batch cut short and tried again then counts a failure once.
 */
export class DeliveryLogBuffer implements AppliedDeliveryLog {
  private readonly inHand = new Map<string, Delivery>();
  private readonly counts: HealthCount[] = [];

  constructor(private readonly store: AppliedDeliveryLog, rows: readonly Delivery[]) {
    for (const row of rows) this.inHand.set(row.id, { ...row });
  }

  /** The rows in hand, as the applier left them, in the order given. */
  rows(): Delivery[] {
    return [...this.inHand.values()];
  }

  /** The health counts recorded, in order, for the caller to write (recordHealth's arguments). */
  healthCounts(): readonly HealthCount[] {
    return this.counts;
  }

  async get(id: string): Promise<Delivery | undefined> {
    const row = this.inHand.get(id);
    return row ? { ...row } : this.store.get(id);
  }

  /** As the store's `update`: the change's fields are set, and a field given as undefined is cleared. */
  async update(id: string, change: DeliveryChange, at: IsoTime): Promise<boolean> {
    const row = this.inHand.get(id) as Record<string, unknown> | undefined;
    if (row === undefined) return this.store.update(id, change, at);
    for (const [key, value] of Object.entries(change)) {
      if (value === undefined) delete row[key];
      else row[key] = value;
    }
    row.updatedAt = at;
    return true;
  }

  async recordHealth(...count: HealthCount): Promise<void> {
    this.counts.push(count);
  }
}
