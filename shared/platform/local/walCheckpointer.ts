import { Worker } from 'node:worker_threads';
import type { SqliteDatabase } from './database';

/**
 * Checkpoints the SQLite write-ahead log from a worker thread, so that the event loop never waits
 * on one.
 *
 * Left to SQLite, a checkpoint runs inside whichever commit pushes the WAL past 1,000 pages: that
 * commit copies the pages into the database file and fsyncs it, on the event loop, and every
 * request in flight waits (webhook receipt p99 went from ~60 ms to 130–350 ms under load, and
 * throughput fell by a fifth; docs/benchmarks.md). Here a second connection in a worker thread runs
 * `wal_checkpoint(PASSIVE)` every `intervalMs`: PASSIVE never blocks the writer, and the writer
 * restarts the log from the top after a complete checkpoint, so the WAL stays small. The main
 * connection keeps an automatic checkpoint at `fallbackPages` as a bound should this thread stop.
 * Durability is unchanged: commits are durable as before; checkpoints only move pages.
 */
export interface WalCheckpointer {
  /** Stops the thread (after a last checkpoint). */
  stop(): Promise<void>;
}

export interface WalCheckpointerOptions {
  /** Default 500. */
  intervalMs?: number;
  /** wal_autocheckpoint on the main connection while the thread runs. Default 20,000 pages (~80 MB). */
  fallbackPages?: number;
  /** Told when a checkpoint fails (the thread goes on). */
  onError?: (message: string) => void;
  /** Told after each checkpoint: frames in the log and frames now copied into the database file. */
  onCheckpoint?: (result: CheckpointResult) => void;
}

/** SQLite's answer to `wal_checkpoint` (the log is fully checkpointed when `checkpointed === log`), and when it ran. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
  /** Date.now() in the thread when the checkpoint finished. */
  at: number;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
const checkpoint = () => {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    if (workerData.report) parentPort.postMessage({ result: { ...result, at: Date.now() } });
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export function startWalCheckpointer(db: SqliteDatabase, options: WalCheckpointerOptions = {}): WalCheckpointer | undefined {
  if (db.memory || !db.open) return undefined;
  const intervalMs = options.intervalMs ?? 500;
  db.pragma(`wal_autocheckpoint = ${options.fallbackPages ?? 20_000}`);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { driver: require.resolve('better-sqlite3'), path: db.name, intervalMs, report: !!options.onCheckpoint },
  });
  worker.unref(); // never what keeps a process alive
  worker.on('message', (message: { error?: string; result?: CheckpointResult }) => {
    if (message.error) options.onError?.(`WAL checkpoint failed: ${message.error}`);
    if (message.result) options.onCheckpoint?.(message.result);
  });
  worker.on('error', (error) => options.onError?.(`WAL checkpoint thread failed: ${error.message}`));
  const exited = new Promise<void>((done) => worker.once('exit', () => done()));
  return {
    async stop() {
      worker.ref(); // held until it has finished, or the process would end while we wait for it
      worker.postMessage('stop');
      await exited;
      // Back to SQLite's own checkpoints for whatever still writes on this connection.
      if (db.open) db.pragma('wal_autocheckpoint = 1000');
    },
  };
}
