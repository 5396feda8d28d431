/** Where a record row keeps its connection key and its lastModifiedAt (UpsertParams). */
const CONNECTION_KEY = 1;
const LAST_MODIFIED_AT = 10;

/**
 * lastModifiedAt in commit order, per connection: the records feed (list with `modifiedAfter` or a
 * cursor) may only pass a time once nothing can commit at or before it any more.
 *
 * A caller proposes lastModifiedAt from its clock, usually before the reads its write depends on
 * (a pull page reads its states first), so another writer that commits meanwhile can store a LATER
 * time first; a client that remembered that time would never see the earlier-stamped write. So a
 * write, inside its transaction and under SQLite's write lock, stamps its rows no earlier than 1 ms
 * after the newest lastModifiedAt of their connection: every commit sorts after every commit before
 * it, and no two commits of a connection share a time. Stored times keep toISOString()'s millisecond
 * form (text order is time order, and the sweep and the list compare them as text), so a connection
 * that commits more than once per millisecond for long runs its stamps ahead of the wall clock by
 * that excess; they never go back.
 */
export class CommitStamps {
  /** @param newestOf the newest stored lastModifiedAt of a connection, read in the write's transaction */
  constructor(private readonly newestOf: (connectionKey: number) => string | null) {}

  /** The earliest time a commit of the connection may stamp (ms since the epoch). */
  floorOf(connectionKey: number): number {
    const newest = this.newestOf(connectionKey);
    return newest === null ? -Infinity : Date.parse(newest) + 1;
  }

  /** `proposed`, or the connection's floor when the proposal is not after everything committed. */
  static stamp(proposed: string, floor: number): string {
    // Written so that a proposal that is not a time stays as it is, for the column's constraint to refuse.
    return Date.parse(proposed) < floor ? new Date(floor).toISOString() : proposed;
  }

  /** Restamps upsert rows in place; call inside the transaction that writes them. */
  apply(rows: readonly unknown[][]): void {
    const floors = new Map<number, number>();
    for (const row of rows) {
      const connectionKey = row[CONNECTION_KEY] as number;
      let floor = floors.get(connectionKey);
      if (floor === undefined) floors.set(connectionKey, (floor = this.floorOf(connectionKey)));
      row[LAST_MODIFIED_AT] = CommitStamps.stamp(row[LAST_MODIFIED_AT] as string, floor);
    }
  }
}
