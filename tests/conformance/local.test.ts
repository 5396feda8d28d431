import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../shared/core/manualClock';
import { openDatabase, type SqliteDatabase } from '../../shared/platform/local/database';
import { SqliteRecordStore } from '../../shared/platform/local/sqliteRecordStore';
import type { StoreFixture } from './fixtures';
import { recordStoreConformance } from './recordStore.conformance';

/**
 * Every port suite against the embedded (SQLite) implementations, each test on a fresh database
 * file in its own temp folder, closed and removed afterwards.
 */
function sqliteFixture<S>(build: (db: SqliteDatabase, clock: ManualClock, dir: string) => S): () => Promise<StoreFixture<S>> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncbridge-conformance-'));
    const db = openDatabase(join(dir, 'syncbridge.db'));
    const clock = new ManualClock();
    return {
      store: build(db, clock, dir),
      clock,
      cleanup: async () => {
        db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

recordStoreConformance('SqliteRecordStore', sqliteFixture((db) => new SqliteRecordStore(db)));
