import type { Container } from '@azure/cosmos';
import { SyncBridgeError } from '../../../core/errors';
import type { Clock } from '../../../ports/clock';
import type { RecordWrite } from '../../../ports/recordStore';
import { queryAll } from './cosmosCalls';
import type { RequestCharges } from './requestCharges';

/** How long after its lastModifiedAt a record waits before the feed lists it, unless told (docs/cosmos.md). */
export const DEFAULT_FEED_HORIZON_MS = 10_000;

/**
 * The records feed's settled horizon on Cosmos DB (docs/cosmos.md, "Records feed").
 *
 * A write call's batches become visible one by one, and two writers can commit in another order
 * than their stamps; so a record with an OLDER lastModifiedAt can appear after a client has
 * listed, and remembered, a newer one. Cosmos DB gives no commit order to stamp by, so the feed
 * waits instead: it lists only records whose lastModifiedAt is at least `horizonMs` behind the
 * store's clock, and a write stamps its records no earlier than that clock at the write. A write
 * call that becomes fully visible within the horizon (less the clock difference between instances)
 * is therefore never passed over: by the time any record newer than it is listed, it is there.
 */
export class FeedHorizon {
  constructor(
    private readonly clock: Clock,
    readonly horizonMs: number,
  ) {
    if (!Number.isInteger(horizonMs) || horizonMs < 0) {
      throw new SyncBridgeError('configuration', `feedHorizonMs must be a whole number of milliseconds, 0 or more, got ${horizonMs}.`);
    }
  }

  /**
   * The exclusive upper bound of the `sortKey`s the feed lists now: every key of a record modified
   * at or before `now − horizon` sorts below `<that instant + 1 ms>|`.
   */
  listBound(): string {
    return `${new Date(this.clock.now().getTime() - this.horizonMs + 1).toISOString()}|`;
  }
}

/**
 * The records of ONE connection, their lastModifiedAt moved after the newest one the partition
 * holds (read just before the write) and to no earlier than the clock: a caller's time taken
 * before its reads must not sort before a write that committed meanwhile, and the feed's horizon
 * counts from the write, not from whenever the caller took its time. Not a commit-order stamp
 * across writers: two writes racing between this read and their batches can commit out of order,
 * which the feed's horizon covers (docs/cosmos.md). Call it right before the batch it stamps.
 */
export async function stampRecords<R extends RecordWrite>(container: Container, charges: RequestCharges, clock: Clock, records: readonly R[]): Promise<R[]> {
  const [newest] = await queryAll<string>(
    container, charges, 'records.stamp',
    "SELECT TOP 1 VALUE c.sortKey FROM c WHERE c.docType = 'record' ORDER BY c.sortKey DESC", [], [records[0].tenantId, records[0].connectionId],
  );
  const afterNewest = newest === undefined ? -Infinity : Date.parse(newest.slice(0, newest.indexOf('|'))) + 1;
  const floor = Math.max(afterNewest, clock.now().getTime());
  return records.map((record) => (Date.parse(record.lastModifiedAt) < floor ? { ...record, lastModifiedAt: new Date(floor).toISOString() } : record));
}
