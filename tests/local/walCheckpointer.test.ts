import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { type CheckpointResult, startWalCheckpointer } from '../../shared/platform/local/walCheckpointer';
import { openTempDatabase, sleep, waitFor } from './helpers';

const MB = 1024 * 1024;

/** Writes about `mb` megabytes in small transactions, as the hosts do. */
function write(db: ReturnType<typeof openTempDatabase>['db'], mb: number): void {
  db.exec('CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, data BLOB)');
  const insert = db.prepare('INSERT INTO filler (data) VALUES (?)');
  const batch = db.transaction((rows: number) => {
    for (let i = 0; i < rows; i += 1) insert.run(Buffer.alloc(1000, i));
  });
  for (let written = 0; written < mb * MB; written += 20_000) batch(20);
}

const size = (path: string) => statSync(path).size;

describe('WAL checkpoints in a worker thread', () => {
  let env: ReturnType<typeof openTempDatabase>;
  beforeEach(() => (env = openTempDatabase()));
  afterEach(() => env.cleanup());

  it('moves committed pages into the database file without the writer checkpointing, and reuses the log', async () => {
    const reports: CheckpointResult[] = [];
    const checkpointer = startWalCheckpointer(env.db, { intervalMs: 50, onCheckpoint: (result) => reports.push(result) })!;
    // Every frame of the log copied, in two reports in a row with the same log, both made after the
    // round's last commit. Reports made while the round was writing are still queued when it ends
    // (the writes block this thread), and on a loaded machine two of them in a row can show a
    // complete checkpoint of half a round.
    const complete = (a?: CheckpointResult, b?: CheckpointResult) =>
      !!a && !!b && a.log > 0 && a.log === b.log && a.checkpointed === a.log && b.checkpointed === b.log;
    const completeCheckpoint = async (round: number, writtenAt: number) => {
      const after = () => reports.filter((r) => r.at > writtenAt);
      await waitFor(() => complete(after().at(-2), after().at(-1)), 15_000, `round ${round} checkpointed`);
    };
    try {
      for (let round = 1; round <= 4; round += 1) {
        write(env.db, 2);
        await completeCheckpoint(round, Date.now());
        // SQLite alone would leave the first 2 MB in the log (its own checkpoint waits for 1,000 pages, ~4 MB).
        expect(size(env.dbPath)).toBeGreaterThanOrEqual(round * 2 * MB);
      }
      // 8 MB were written in all; the writer restarted the log from the top after each complete
      // checkpoint, so it holds about one round's frames, not four.
      expect(size(`${env.dbPath}-wal`)).toBeLessThan(4 * MB);
    } finally {
      await checkpointer.stop();
    }
    expect(env.db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000); // SQLite's own again
  });

  it('leaves checkpoints to SQLite when it is not running (the control)', async () => {
    write(env.db, 2);
    await sleep(300);
    expect(size(env.dbPath)).toBeLessThan(MB);
  });

  it('does nothing for an in-memory database', () => {
    const db = new Database(':memory:');
    expect(startWalCheckpointer(db)).toBeUndefined();
    db.close();
  });
});
