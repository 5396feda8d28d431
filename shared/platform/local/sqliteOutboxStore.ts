import { SyncBridgeError } from '../../core/errors';
import type { IsoTime } from '../../core/model';
import type { ListPendingOptions, OutboxEntry, OutboxStore, OutboxUpdate } from '../../ports/outboxStore';
import type { RecordWrite } from '../../ports/recordStore';
import type { SqliteDatabase } from './database';
import { isUniqueViolation } from './sqliteConstraint';
import { assertSameScope } from '../outboxScope';
import { SqliteRecordStore } from './sqliteRecordStore';

/** The entry is one JSON document; state and connection are columns for the pending scan. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  connection_id TEXT NOT NULL,
  state TEXT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (state, connection_id, seq);
`;

/**
 * OutboxStore on the same SQLite file as the records, so that a record and its entry commit in
 * one transaction (SqliteRecordStore.writeNow runs inside it as a savepoint). Its record writer
 * may be a second SqliteRecordStore on the same file: scope keys are rows, cached only once
 * committed, so two instances never disagree about them.
 */
export class SqliteOutboxStore implements OutboxStore {
  private readonly insert;
  private readonly selectOne;
  private readonly commit: (record: RecordWrite, entry: OutboxEntry, alongside: readonly RecordWrite[]) => void;

  constructor(
    private readonly db: SqliteDatabase,
    records: SqliteRecordStore = new SqliteRecordStore(db),
  ) {
    db.exec(SCHEMA);
    this.insert = db.prepare<[string, string, string, string]>('INSERT INTO outbox (id, connection_id, state, doc) VALUES (?, ?, ?, ?)');
    this.selectOne = db.prepare<[string], { doc: string }>('SELECT doc FROM outbox WHERE id = ?');
    // The entry goes first: if its id is taken, the transaction ends before the record is touched.
    this.commit = db.transaction((record: RecordWrite, entry: OutboxEntry, alongside: readonly RecordWrite[]) => {
      this.insert.run(entry.id, entry.connectionId, entry.state, JSON.stringify(entry));
      records.writeNow([record, ...alongside]);
    });
  }

  async commitLocalChange(record: RecordWrite, entry: OutboxEntry, alongside: readonly RecordWrite[] = []): Promise<void> {
    assertSameScope(record, entry, alongside);
    try {
      this.commit(record, entry, alongside);
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new SyncBridgeError('conflict', `Outbox entry ${entry.id} exists already: record version ${entry.version} was taken by another change.`, { cause: error });
      }
      throw error;
    }
  }

  async get(id: string): Promise<OutboxEntry | undefined> {
    return this.read(id);
  }

  private read(id: string): OutboxEntry | undefined {
    const row = this.selectOne.get(id);
    return row ? (JSON.parse(row.doc) as OutboxEntry) : undefined;
  }

  async listPending(options: ListPendingOptions): Promise<OutboxEntry[]> {
    const where = ["state = 'pending'"];
    const params: Array<string | number> = [];
    if (options.connectionId !== undefined) {
      where.push('connection_id = ?');
      params.push(options.connectionId);
    }
    if (options.idleSince !== undefined) {
      // The times live in the JSON document (no column: databases made before keep working); the
      // pending rows are few, found by the index on state first.
      where.push("json_extract(doc, '$.updatedAt') <= ?", "(json_extract(doc, '$.nextAttemptAt') IS NULL OR json_extract(doc, '$.nextAttemptAt') <= ?)");
      params.push(options.idleSince, options.idleSince);
    }
    const rows = this.db.prepare<Array<string | number>, { doc: string }>(`SELECT doc FROM outbox WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`).all(...params, options.limit);
    return rows.map((row) => JSON.parse(row.doc) as OutboxEntry);
  }

  async update(id: string, update: OutboxUpdate, at: IsoTime): Promise<OutboxEntry> {
    // Read and write in one synchronous step: nothing can change the entry in between.
    const current = this.read(id);
    if (!current) throw new SyncBridgeError('not_found', `Outbox entry ${id} does not exist.`);
    const next: OutboxEntry = {
      ...current,
      state: update.state,
      attempts: update.attempts ?? current.attempts,
      ...(update.replays === undefined ? {} : { replays: update.replays }),
      lastError: update.lastError === undefined ? current.lastError : update.lastError,
      ...(update.nextAttemptAt === undefined ? {} : { nextAttemptAt: update.nextAttemptAt }),
      updatedAt: at,
    };
    this.db.prepare<[string, string, string]>('UPDATE outbox SET state = ?, doc = ? WHERE id = ?').run(next.state, JSON.stringify(next), id);
    return next;
  }
}

