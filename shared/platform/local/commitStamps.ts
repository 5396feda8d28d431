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
  /**
   * @param newestOf the newest stored lastModifiedAt of a connection, read in the write's transaction
   * @param turn the database handle's turn commit (turnCommit.ts), when it has one: a connection's
   *   floor is then read once per turn and raised by each write's stamps, since no other connection
   *   can write while the turn is open. Shared by every store on the handle (turnFloors).
   */
  constructor(
    private readonly newestOf: (connectionKey: number) => string | null,
    private readonly turn?: { handle: object; openTurn: () => number | undefined },
  ) {}

  /** The earliest time a commit of the connection may stamp (ms since the epoch). */
  floorOf(connectionKey: number): number {
    const known = this.knownFloors();
    const floor = known?.get(connectionKey);
    if (floor !== undefined) return floor;
    const newest = this.newestOf(connectionKey);
    const read = newest === null ? -Infinity : Date.parse(newest) + 1;
    known?.set(connectionKey, read);
    return read;
  }

  /**
   * A write of the connection stamped `stamp` (ISO): later writes of the turn stamp after it. Were
   * that write undone after all (its savepoint rolled back), the floor stays a little ahead of the
   * stored times, which only stamps later writes a little later: never out of commit order.
   */
  stamped(connectionKey: number, stamp: string): void {
    const known = this.knownFloors();
    if (known === undefined) return;
    const after = Date.parse(stamp) + 1;
    // A stamp that is no time is left for the column to refuse: it says nothing of the order.
    if (!Number.isFinite(after)) return;
    if (after > (known.get(connectionKey) ?? -Infinity)) known.set(connectionKey, after);
  }

  /** The floors known in the handle's open turn, or undefined when none is open (read every time). */
  private knownFloors(): Map<number, number> | undefined {
    const turn = this.turn?.openTurn();
    if (turn === undefined) return undefined;
    const handle = this.turn!.handle;
    const known = turnFloors.get(handle);
    if (known?.turn === turn) return known.floors;
    const floors = new Map<number, number>();
    turnFloors.set(handle, { turn, floors });
    return floors;
  }

  /** `proposed`, or the connection's floor when the proposal is not after everything committed. */
  static stamp(proposed: string, floor: number): string {
    // Written so that a proposal that is not a time stays as it is, for the column's constraint to refuse.
    return Date.parse(proposed) < floor ? new Date(floor).toISOString() : proposed;
  }

  /**
   * Restamps one upsert row in place, as `apply` does, without raising the connection's floor: for
   * a write that may still be refused (a condition of its own). Call `written` once it is stored.
   */
  stampOne(row: unknown[]): void {
    row[LAST_MODIFIED_AT] = CommitStamps.stamp(row[LAST_MODIFIED_AT] as string, this.floorOf(row[CONNECTION_KEY] as number));
  }

  /** A row stamped by `stampOne` was stored: later writes of the turn stamp after it. */
  written(row: readonly unknown[]): void {
    this.stamped(row[CONNECTION_KEY] as number, row[LAST_MODIFIED_AT] as string);
  }

  /** Restamps upsert rows in place; call inside the transaction that writes them. */
  apply(rows: readonly unknown[][]): void {
    const floors = new Map<number, number>();
    for (const row of rows) {
      const connectionKey = row[CONNECTION_KEY] as number;
      let floor = floors.get(connectionKey);
      if (floor === undefined) floors.set(connectionKey, (floor = this.floorOf(connectionKey)));
      row[LAST_MODIFIED_AT] = CommitStamps.stamp(row[LAST_MODIFIED_AT] as string, floor);
      this.stamped(connectionKey, row[LAST_MODIFIED_AT] as string);
    }
  }
}

/** Per database handle, the connections' floors known in its open turn (CommitStamps). */
const turnFloors = new WeakMap<object, { turn: number; floors: Map<number, number> }>();
