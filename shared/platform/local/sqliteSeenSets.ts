import { createHash } from 'node:crypto';
import type { SqliteDatabase } from './database';

interface RunTable {
  name: string;
  insert: ReturnType<SqliteDatabase['prepare']> & { run(scopeKey: number, idsJson: string): unknown };
}

/**
 * The seen-sets of full runs: which external ids a run saw, per scope, for its deletion sweep.
 *
 * Each run gets a table of its own, because a run's seen-set is written once, read once (by the
 * sweep) and then thrown away whole: DROP TABLE frees its pages in one step, where deleting
 * 500,000 rows from a shared table took seconds (measured: ~20 µs a row in WAL mode). The tables
 * live in the same file, so they survive a crash with the run they belong to; `drop` is idempotent.
 */
export class SqliteSeenSets {
  private readonly tables = new Map<string, RunTable>();

  constructor(private readonly db: SqliteDatabase) {}

  /** Table name for a run: a fixed prefix and a hash, so any run id makes a safe identifier. */
  static tableName(runId: string): string {
    return `record_seen_${createHash('sha256').update(runId).digest('hex').slice(0, 24)}`;
  }

  /** Records that the run saw these external ids (a JSON array text) in the scope. */
  mark(runId: string, scopeKey: number, externalIdsJson: string): void {
    this.table(runId).insert.run(scopeKey, externalIdsJson);
  }

  /** The table name for the run, created (empty) if the run has not marked anything yet. */
  ensure(runId: string): string {
    return this.table(runId).name;
  }

  drop(runId: string): void {
    this.tables.delete(runId);
    this.db.exec(`DROP TABLE IF EXISTS ${SqliteSeenSets.tableName(runId)}`);
  }

  private table(runId: string): RunTable {
    let table = this.tables.get(runId);
    if (!table) {
      const name = SqliteSeenSets.tableName(runId);
      this.db.exec(`CREATE TABLE IF NOT EXISTS ${name} (
        scope_key INTEGER NOT NULL,
        external_id TEXT NOT NULL,
        PRIMARY KEY (scope_key, external_id)
      ) WITHOUT ROWID`);
      table = { name, insert: this.db.prepare<[number, string]>(`INSERT OR IGNORE INTO ${name} (scope_key, external_id) SELECT ?, value FROM json_each(?)`) };
      this.tables.set(runId, table);
    }
    return table;
  }
}
