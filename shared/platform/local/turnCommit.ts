import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './database';
import { busyAsTransient } from './sqliteBusy';

/**
 * One commit per event-loop turn for a database handle (the local platform's group commit).
 *
 * Every write on the handle — a single statement or a `db.transaction(...)` — joins one
 * transaction that opens (BEGIN IMMEDIATE) at the turn's first write and commits when the turn
 * ends (`setImmediate`); a `db.transaction(...)` inside it is a savepoint, so a function that
 * throws still undoes only its own writes. SQLite's cost is per commit: each commit appends every
 * page it touched to the WAL, and a turn of a busy host touches the same queue, log and record
 * pages dozens of times. Measured in docs/webhook-intake.md.
 *
 * What a caller gives up is "durable on return": a write is durable when its turn commits. That
 * is safe because nothing outside this handle can act on a write before then:
 * - other connections (other processes) cannot see it, and cannot write before it commits (the
 *   turn holds SQLite's write lock), so decisions they take in their own transactions see it;
 * - an answer to a client waits for `whenDurable()` (the local host answers HTTP only after it);
 * - a queue message's completion is written after its handler's writes on the same handle, so
 *   after a crash either both committed or the message is delivered again, as on Service Bus;
 * - where a write must not wait — a rotated refresh token, whose old one is spent — the store
 *   calls `commitNow()`.
 * Several such handles on one file in one thread (two platform instances in a test) commit each
 * other's open turn before they write, since a handle waiting for SQLite's lock would block the
 * thread that holds it. A plain handle on the same file, in the same thread, has no such courtesy:
 * its writes wait (busy_timeout) for a lock only this thread can release. Use one or the other.
 */
export interface TurnCommit {
  /** Resolves once every write made so far is committed (at once when none waits). */
  whenDurable(): Promise<void>;
  /**
   * Commits the open turn now (synchronously); the next write opens a new one. Inside a
   * `db.transaction(...)` function it does nothing (that function's savepoint must stay open; the
   * turn commits at its end as usual).
   */
  commitNow(): void;
  /**
   * Opens the turn's transaction now (BEGIN IMMEDIATE), as a write would: until the turn commits,
   * what this handle reads no other connection can change. Inside an open turn it does nothing.
   */
  begin(): void;
  /**
   * The open turn's number, each turn's its own; undefined when none is open. What a caller read
   * in turn n stays true for it while `openTurn` is n: no other connection can write meanwhile.
   */
  readonly openTurn: number | undefined;
  /** Commits made so far, for tests and benchmarks. */
  readonly commits: number;
  /**
   * Turns whose writes were lost so far: rolled back by SQLite itself (an I/O error, a full disk)
   * or by a commit that failed. A caller whose writes span a turn compares it before and after.
   */
  readonly rollbacks: number;
}

/** The handle's turn commit, when it commits per turn. */
export function turnCommitOf(db: SqliteDatabase): TurnCommit | undefined {
  return turnCommits.get(db);
}

interface Waiter {
  done: () => void;
  fail: (error: unknown) => void;
}

const turnCommits = new WeakMap<SqliteDatabase, TurnCommit>();

/** Per database file, how to commit each open turn of this thread's handles on it. */
const handlesByFile = new Map<string, Set<() => void>>();

/** Resolves when the handle's writes so far are durable: at once unless it commits per turn. */
export function whenDurable(db: SqliteDatabase): Promise<void> {
  return turnCommits.get(db)?.whenDurable() ?? Promise.resolve();
}

/** Commits the handle's open turn now, when it commits per turn (see TurnCommit.commitNow). */
export function commitNow(db: SqliteDatabase): void {
  turnCommits.get(db)?.commitNow();
}

/**
 * Commits the open turns of this thread's other handles on the same file, as a write on `db`
 * would before it begins: a read on `db` then sees what they wrote (SqliteQueue's idle check).
 */
export function commitOtherTurns(db: SqliteDatabase): void {
  if (db.memory) return;
  const handles = handlesByFile.get(db.name);
  if (handles === undefined || handles.size < 2) return;
  const own = ownCommit.get(db);
  for (const commit of handles) if (commit !== own) commit();
}

/** Each turn-committing handle's own commit function (the entry of handlesByFile it owns). */
const ownCommit = new WeakMap<SqliteDatabase, () => void>();

/** Makes the handle commit once per event-loop turn. Called once, right after opening it. */
export function enableTurnCommit(db: SqliteDatabase): TurnCommit {
  const existing = turnCommits.get(db);
  if (existing) return existing;
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  let open = false; // a turn transaction of ours is open
  let scheduled = false;
  let waiters: Waiter[] = [];
  let commits = 0;
  let rollbacks = 0;
  let depth = 0; // db.transaction functions running now
  let turns = 0; // turns opened so far: the open one's number

  const settle = (error?: unknown) => {
    const list = waiters;
    waiters = [];
    for (const w of list) (error === undefined ? w.done() : w.fail(error));
  };

  /**
   * SQLite may roll the turn back itself (an I/O error, a full disk): its writes are gone, and
   * whoever waits for them hears so.
   */
  const rolledBack = () => {
    open = false;
    rollbacks += 1;
    settle(new Error('The turn transaction was rolled back by SQLite; its writes were not stored.'));
  };

  /** Commits the open turn, if any, and tells its waiters. */
  const commitOpen = () => {
    if (!open) return settle();
    if (!db.open) {
      open = false;
      return settle(new Error('The database was closed before its writes were committed.'));
    }
    if (!db.inTransaction) return rolledBack();
    open = false;
    try {
      commit.run();
      commits += 1;
      settle();
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      rollbacks += 1;
      settle(busyAsTransient(error));
    }
  };

  const finish = () => {
    scheduled = false;
    commitOpen();
  };

  const sameFile = db.memory ? undefined : handlesByFile.get(db.name) ?? handlesByFile.set(db.name, new Set()).get(db.name)!;
  sameFile?.add(commitOpen);
  ownCommit.set(db, commitOpen);

  /** Before a write: join the open turn, or open one. A caller's own open transaction is left alone. */
  const join = () => {
    if (db.inTransaction) return;
    if (open) rolledBack();
    if (sameFile !== undefined && sameFile.size > 1) for (const other of sameFile) if (other !== commitOpen) other();
    try {
      begin.run();
    } catch (error) {
      // Another connection held the write lock past the busy timeout: nothing was written, and
      // the caller may try again once it lets go.
      throw busyAsTransient(error);
    }
    open = true;
    turns += 1;
    if (!scheduled) {
      scheduled = true;
      setImmediate(finish);
    }
  };

  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    const statement = prepare(sql);
    if (statement.readonly) return statement;
    for (const method of ['run', 'get', 'all', 'iterate'] as const) {
      const original = statement[method] as (...args: unknown[]) => unknown;
      (statement as unknown as Record<string, unknown>)[method] = function joined(this: Statement, ...args: unknown[]) {
        join();
        return original.apply(statement, args);
      };
    }
    return statement;
  }) as SqliteDatabase['prepare'];

  const transaction = db.transaction.bind(db);
  db.transaction = ((fn: (...args: never[]) => unknown) => {
    const inner = transaction(fn);
    const joined = function joined(this: unknown, ...args: unknown[]) {
      join();
      depth += 1;
      try {
        return (inner as unknown as (...a: unknown[]) => unknown).apply(this, args);
      } finally {
        depth -= 1;
      }
    };
    // Inside the turn every variant is a savepoint; keep the variants callable as they were.
    for (const variant of ['default', 'deferred', 'immediate', 'exclusive'] as const) Object.defineProperty(joined, variant, { value: joined });
    Object.defineProperty(joined, 'database', { value: db });
    return joined;
  }) as SqliteDatabase['transaction'];

  const close = db.close.bind(db);
  db.close = (() => {
    commitOpen();
    sameFile?.delete(commitOpen);
    if (sameFile?.size === 0) handlesByFile.delete(db.name);
    return close();
  }) as SqliteDatabase['close'];

  const handle: TurnCommit = {
    whenDurable() {
      if (!open) return Promise.resolve();
      return new Promise<void>((done, fail) => waiters.push({ done, fail }));
    },
    commitNow() {
      if (depth === 0) commitOpen();
    },
    begin() {
      join();
    },
    get openTurn() {
      return open && db.inTransaction ? turns : undefined;
    },
    get commits() {
      return commits;
    },
    get rollbacks() {
      // A turn SQLite rolled back by itself is counted now, not only at the next write.
      if (open && !db.inTransaction) rolledBack();
      return rollbacks;
    },
  };
  turnCommits.set(db, handle);
  return handle;
}
