import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type SqliteDatabase = Database.Database;

/**
 * Opens the one SQLite file that holds every embedded store and the local queue.
 *
 * WAL lets readers (admin API) run beside the writer; synchronous=NORMAL in WAL mode keeps the
 * database consistent after a crash and loses at most the last transactions on power loss, not on
 * a process kill (which is what the crash tests exercise). temp_store=MEMORY keeps the statement
 * journals of savepoints (every transaction inside a per-turn commit, turnCommit.ts) out of temp
 * files: they only ever serve a rollback in this process. Each store module creates its own
 * tables with CREATE TABLE IF NOT EXISTS, so stores stay independent of each other.
 */
export interface OpenDatabaseOptions {
  /**
   * How long a write waits for another connection's write lock before SQLite gives up with
   * SQLITE_BUSY (reported as a `transient` error, sqliteBusy.ts). Default 5000.
   */
  busyTimeoutMs?: number;
}

export function openDatabase(path: string, options: OpenDatabaseOptions = {}): SqliteDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
  db.pragma('foreign_keys = ON');
  db.pragma('cache_size = -32000'); // 32 MB page cache: bounded, so RSS stays predictable
  db.pragma('temp_store = MEMORY');
  return db;
}
