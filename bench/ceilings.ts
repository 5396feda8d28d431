import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentHash } from '../shared/core/hash';

export interface CeilingResult {
  records: number;
  /** Records per second of a plain paged HTTP fetch + JSON.parse of every page. */
  fetchPerSecond: number;
  /** Rows per second of a plain SQLite upsert of the same records, in 1,000-row transactions. */
  upsertPerSecond: number;
}

/**
 * The ceilings the sync is compared with, measured in the same run on the same data: what the
 * sandbox can serve to a bare client, and what SQLite can store with no product code around it.
 */
export async function measureCeilings(sandboxUrl: string, apiKey: string, entities: readonly string[]): Promise<CeilingResult> {
  const dir = mkdtempSync(join(tmpdir(), 'syncbridge-ceiling-'));
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE raw (id TEXT PRIMARY KEY, entity TEXT NOT NULL, data TEXT NOT NULL, hash TEXT NOT NULL) WITHOUT ROWID');
  const upsert = db.prepare('INSERT INTO raw (id, entity, data, hash) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data, hash = excluded.hash');
  let fetchNs = 0n;
  let upsertNs = 0n;
  let records = 0;
  for (const entity of entities) {
    let cursor: string | null = null;
    do {
      const t0 = process.hrtime.bigint();
      const url = `${sandboxUrl}/v1/${entity}?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const response = await fetch(url, { headers: { 'x-api-key': apiKey } });
      const page = JSON.parse(await response.text()) as { data: Array<{ id: string }>; next_cursor: string | null };
      const t1 = process.hrtime.bigint();
      db.transaction(() => {
        for (const record of page.data) upsert.run(`${entity}:${record.id}`, entity, JSON.stringify(record), contentHash(record));
      })();
      const t2 = process.hrtime.bigint();
      fetchNs += t1 - t0;
      upsertNs += t2 - t1;
      records += page.data.length;
      cursor = page.next_cursor;
    } while (cursor);
  }
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return { records, fetchPerSecond: records / (Number(fetchNs) / 1e9), upsertPerSecond: records / (Number(upsertNs) / 1e9) };
}
