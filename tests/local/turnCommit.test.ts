import { openDatabase, type SqliteDatabase } from '../../shared/platform/local/database';
import { randomBytes } from 'node:crypto';
import { SqliteRecordStore } from '../../shared/platform/local/sqliteRecordStore';
import { SqliteSecretStore } from '../../shared/platform/local/sqliteSecretStore';
import { commitNow, enableTurnCommit, whenDurable, type TurnCommit } from '../../shared/platform/local/turnCommit';
import { makeRecord } from '../conformance/recordStore.conformance';
import type { SyncRecord } from '../../shared/core/model';
import { tempDirectory } from './helpers';
import { PassThrough } from 'node:stream';
import { isSyncBridgeError } from '../../shared/core/errors';
import { createLocalPlatform, type LocalPlatform } from '../../shared/platform/local/localPlatform';
import { busyAsTransient } from '../../shared/platform/local/sqliteBusy';

/**
 * The local store's group commit: every write of one event-loop turn in one transaction, a
 * savepoint per db.transaction, the commit when the turn ends. A second handle on the same file
 * (what another process sees) is the witness of what is committed.
 */
describe('turnCommit', () => {
  let dir: ReturnType<typeof tempDirectory>;
  let db: SqliteDatabase;
  let other: SqliteDatabase;
  let turns: TurnCommit;
  const nextTurn = () => new Promise<void>((done) => setImmediate(done));
  const seen = () => (other.prepare('SELECT v FROM t ORDER BY v').all() as Array<{ v: string }>).map((r) => r.v);

  beforeEach(() => {
    dir = tempDirectory('syncbridge-turn-');
    db = openDatabase(dir.dbPath);
    db.exec('CREATE TABLE t (v TEXT PRIMARY KEY)');
    turns = enableTurnCommit(db);
    other = openDatabase(dir.dbPath);
  });

  afterEach(() => {
    if (db.open) db.close();
    other.close();
    dir.remove();
  });

  it('commits the writes of one turn together, once, when the turn ends', async () => {
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const insertTwo = db.transaction((a: string, b: string) => {
      insert.run(a);
      insert.run(b);
    });
    insert.run('a');
    insertTwo.immediate('b', 'c');
    insert.run('d');
    // Visible on the writing handle, not yet to anyone else.
    expect((db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n).toBe(4);
    expect(seen()).toEqual([]);
    expect(turns.commits).toBe(0);
    await whenDurable(db);
    expect(seen()).toEqual(['a', 'b', 'c', 'd']);
    expect(turns.commits).toBe(1);
    // The next turn's writes are the next commit.
    insert.run('e');
    await nextTurn();
    expect(seen()).toContain('e');
    expect(turns.commits).toBe(2);
  });

  it('undoes only the writes of a transaction that throws; the rest of the turn commits', async () => {
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    insert.run('kept-before');
    const failing = db.transaction(() => {
      insert.run('undone');
      throw new Error('boom');
    });
    expect(() => failing()).toThrow('boom');
    // A constraint error of a single statement undoes that statement only, as in autocommit.
    expect(() => insert.run('kept-before')).toThrow(/UNIQUE/);
    insert.run('kept-after');
    await whenDurable(db);
    expect(seen()).toEqual(['kept-after', 'kept-before']);
  });

  it('opens no transaction for reads, so they never hold the write lock', async () => {
    db.prepare('SELECT COUNT(*) FROM t').get();
    expect(db.inTransaction).toBe(false);
    other.prepare('INSERT INTO t (v) VALUES (?)').run('from-the-other-handle');
    await nextTurn();
    expect(turns.commits).toBe(0);
  });

  it('begin opens the turn before any write: reads after it see nothing another connection could change, since none can write', async () => {
    turns.begin();
    expect(db.inTransaction).toBe(true);
    other.pragma('busy_timeout = 0');
    expect(() => other.prepare('INSERT INTO t (v) VALUES (?)').run('blocked')).toThrow(/locked|busy/i);
    turns.begin(); // inside the open turn: nothing more
    db.prepare('INSERT INTO t (v) VALUES (?)').run('mine');
    await whenDurable(db);
    expect(turns.commits).toBe(1);
    expect(seen()).toEqual(['mine']);
    other.prepare('INSERT INTO t (v) VALUES (?)').run('after');
  });

  it('commitNow makes the writes so far durable at once', () => {
    db.prepare('INSERT INTO t (v) VALUES (?)').run('now');
    commitNow(db);
    expect(seen()).toEqual(['now']);
    expect(db.inTransaction).toBe(false);
  });

  it('commits what is pending when the handle is closed', () => {
    db.prepare('INSERT INTO t (v) VALUES (?)').run('before-close');
    db.close();
    expect(seen()).toEqual(['before-close']);
  });

  it('tells the waiters when the turn was rolled back instead of committed', async () => {
    db.prepare('INSERT INTO t (v) VALUES (?)').run('lost');
    const durable = whenDurable(db);
    expect(turns.rollbacks).toBe(0);
    db.exec('ROLLBACK'); // what SQLite does itself on an I/O error or a full disk
    await expect(durable).rejects.toThrow(/rolled back/);
    expect(seen()).toEqual([]);
    expect(turns.rollbacks).toBe(1);
    // The handle goes on: the next turn commits normally.
    db.prepare('INSERT INTO t (v) VALUES (?)').run('next');
    await whenDurable(db);
    expect(seen()).toEqual(['next']);
  });

  it('whenDurable resolves at once on a handle that commits per write', async () => {
    other.prepare('INSERT INTO t (v) VALUES (?)').run('plain');
    await expect(whenDurable(other)).resolves.toBeUndefined();
    expect(other.inTransaction).toBe(false);
  });

  it('commitNow inside a db.transaction function leaves its savepoint alone; the turn commits it', async () => {
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    db.transaction(() => {
      insert.run('inside');
      commitNow(db);
      insert.run('still-inside');
    })();
    expect(seen()).toEqual([]);
    await whenDurable(db);
    expect(seen()).toEqual(['inside', 'still-inside']);
  });

  it('a record scope key is committed before the store caches it: a turn rolled back later cannot leave it dangling', async () => {
    const records = new SqliteRecordStore(db);
    const scope = { tenantId: 't1', connectionId: 'c1', entity: 'customers' };
    await records.write([makeRecord(scope, 'first')]);
    db.exec('ROLLBACK'); // the turn that wrote the first record is lost (an I/O error, say)
    await records.write([makeRecord(scope, 'second')]);
    await whenDurable(db);
    // Read through a fresh store on another handle: the record is found under its scope.
    const fresh = new SqliteRecordStore(other);
    expect(await fresh.get(scope, 'first')).toBeUndefined();
    expect((await fresh.get(scope, 'second'))?.externalId).toBe('second');
  });

  it('numbers each open turn: a read in turn n holds while openTurn is n', async () => {
    expect(turns.openTurn).toBeUndefined();
    db.prepare('INSERT INTO t (v) VALUES (?)').run('a');
    const first = turns.openTurn;
    expect(first).toEqual(expect.any(Number));
    db.prepare('INSERT INTO t (v) VALUES (?)').run('b');
    expect(turns.openTurn).toBe(first);
    await nextTurn();
    expect(turns.openTurn).toBeUndefined();
    turns.begin();
    const second = turns.openTurn;
    expect(second).not.toBe(first);
    db.exec('ROLLBACK'); // SQLite lost the turn (an I/O error, say): what was read in it holds no more
    expect(turns.openTurn).toBeUndefined();
    db.prepare('INSERT INTO t (v) VALUES (?)').run('c');
    expect([first, second]).not.toContain(turns.openTurn);
  });

  describe('record stamps (CommitStamps) on a handle that commits per turn', () => {
    const scope = { tenantId: 't1', connectionId: 'c1', entity: 'customers' };
    const T = Date.parse('2030-01-01T00:00:00.000Z');
    const at = (ms: number) => new Date(T + ms).toISOString();
    const write = (records: SqliteRecordStore, id: string, proposed: number) => records.write([makeRecord(scope, id, { lastModifiedAt: at(proposed) })]);
    const stamps = async () => {
      await whenDurable(db);
      return Object.fromEntries((other.prepare('SELECT external_id AS id, last_modified_at AS at FROM records ORDER BY external_id').all() as Array<{ id: string; at: string }>).map((r) => [r.id, Date.parse(r.at) - T]));
    };
    /** Counts reads of a connection's newest stamp, on stores made after it is called. */
    function countNewestReads(): () => number {
      let reads = 0;
      const prepare = db.prepare.bind(db);
      db.prepare = ((sql: string) => {
        const statement = prepare(sql);
        if (!sql.includes('max(last_modified_at)')) return statement;
        const get = statement.get.bind(statement);
        statement.get = ((...args: unknown[]) => ((reads += 1), get(...(args as [])))) as typeof statement.get;
        return statement;
      }) as typeof db.prepare;
      return () => reads;
    }

    it('reads a connection\'s newest stamp once per turn, and stamps every write of the turn after the one before, whichever store on the handle wrote it', async () => {
      const reads = countNewestReads();
      const a = new SqliteRecordStore(db);
      const b = new SqliteRecordStore(db);
      // A store's first sight of a scope commits the turn (RecordScopeKeys): done before counting.
      await write(a, 'r0', -10);
      await b.get(scope, 'r0');
      await whenDurable(db);
      const before = reads();
      await write(a, 'r1', 0);
      await write(b, 'r2', 0);
      await write(a, 'r3', 0);
      expect(reads() - before).toBe(1);
      expect(await stamps()).toEqual({ r0: -10, r1: 0, r2: 1, r3: 2 });
      // A new turn reads again.
      await write(b, 'r4', 0);
      expect(reads() - before).toBe(2);
      expect((await stamps()).r4).toBe(3);
    });

    it('reads again after another connection wrote between turns, and after SQLite rolled the turn back', async () => {
      const records = new SqliteRecordStore(db);
      await write(records, 'r1', 0);
      await whenDurable(db);
      // Another process stamps later meanwhile: the next turn stamps after it.
      await new SqliteRecordStore(other).write([makeRecord(scope, 'o1', { lastModifiedAt: at(50) })]);
      await write(records, 'r2', 10);
      expect((await stamps()).r2).toBe(51);
      // A turn lost to SQLite: its stamps are gone, and the next write is stamped from what is stored.
      await write(records, 'lost', 500);
      db.exec('ROLLBACK');
      await write(records, 'r3', 60);
      expect(await stamps()).toEqual({ o1: 50, r1: 0, r2: 51, r3: 60 });
    });

    it('a write refused for a proposed time that is no time leaves later stamps of the turn in commit order', async () => {
      const records = new SqliteRecordStore(db);
      await write(records, 'r1', 100);
      await whenDurable(db);
      await write(records, 'r2', 200);
      // Matched by code: the native driver's error class may come from another test file's realm (a reused jest worker).
      await expect(records.write([makeRecord(scope, 'bad', { lastModifiedAt: null as unknown as string })])).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_NOTNULL' });
      await write(records, 'r3', 0);
      expect(await stamps()).toEqual({ r1: 100, r2: 200, r3: 201 });
    });

    it('a write undone by its own savepoint leaves later stamps of the turn in order', async () => {
      const records = new SqliteRecordStore(db);
      await write(records, 'r1', 0);
      // The condition fails inside the write's transaction: nothing of it is stored.
      await expect(records.write([makeRecord(scope, 'r2', { lastModifiedAt: at(5), ifRevision: 'no-such-revision' } as Partial<SyncRecord>)])).rejects.toThrow(/written since it was read/);
      await write(records, 'r3', 0);
      const stored = await stamps();
      expect(stored.r2).toBeUndefined();
      expect(stored.r3).toBeGreaterThan(stored.r1);
    });
  });

  it('a secret version is committed the moment it is stored, not at the end of the turn', async () => {
    const secrets = new SqliteSecretStore(db, randomBytes(32));
    db.prepare('INSERT INTO t (v) VALUES (?)').run('same-turn');
    await secrets.set('oauth-refresh-token', 'rotated');
    // No turn has ended: another process already finds the rotated token (and the turn's other write).
    expect(other.prepare('SELECT COUNT(*) AS n FROM secret_versions WHERE name = ?').get('oauth-refresh-token')).toEqual({ n: 1 });
    expect(seen()).toEqual(['same-turn']);
  });
});

/**
 * Another connection (another process, a backup tool) holding the file's write lock past the busy
 * timeout: the store's write fails as `transient`, so the push or run step that made it backs off
 * and tries again, and is not filed as a fault of SyncBridge's own (`internal_error`).
 */
describe('a write lock held elsewhere past the busy timeout', () => {
  let dir: ReturnType<typeof tempDirectory>;
  let platform: LocalPlatform;
  let holder: SqliteDatabase;
  const scope = { tenantId: 't1', connectionId: 'c1', entity: 'customers' };

  beforeEach(() => {
    dir = tempDirectory('syncbridge-busy-');
    platform = createLocalPlatform({ dataDir: dir.path, telemetrySink: new PassThrough().resume(), busyTimeoutMs: 20, checkpointIntervalMs: 0 });
    holder = openDatabase(dir.dbPath);
  });

  afterEach(async () => {
    if (holder.inTransaction) holder.exec('ROLLBACK');
    holder.close();
    await platform.close();
    dir.remove();
  });

  it('fails the write as transient, writes nothing, and the same write passes once the lock is let go', async () => {
    holder.exec('BEGIN IMMEDIATE');
    const failure = await platform.records.write([makeRecord(scope, 'c-1')]).then(() => undefined, (error: unknown) => error);
    expect(isSyncBridgeError(failure, 'transient')).toBe(true);
    expect((failure as Error).message).toMatch(/locked by another connection.*SQLITE_BUSY/);
    expect(((failure as Error).cause as { code: string }).code).toMatch(/^SQLITE_BUSY/);
    holder.exec('ROLLBACK');

    await platform.records.write([makeRecord(scope, 'c-1')]);
    await whenDurable(platform.db);
    expect((await platform.records.get(scope, 'c-1'))?.externalId).toBe('c-1');
  });

  it('leaves every other error as it was', () => {
    const constraint = Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT_UNIQUE' });
    expect(busyAsTransient(constraint)).toBe(constraint);
    expect(isSyncBridgeError(busyAsTransient(Object.assign(new Error('locked'), { code: 'SQLITE_BUSY_SNAPSHOT' })), 'transient')).toBe(true);
  });
});
