import { SyncBridgeError } from '../../core/errors';
import type { IsoTime } from '../../core/model';
import type { Delivery, DeliveryListQuery, DeliveryPage, DeliveryStore, WebhookHealth, WebhookHealthEvent } from '../../ports/deliveryStore';
import type { SqliteDatabase } from './database';

/**
 * `seq` (the rowid) orders the log: newest first is `seq DESC`, and the cursor is the last seq
 * served, so paging is an index range scan however long the log grows. The body lives in its own
 * column so that listing pages can leave it out of the JSON it parses.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL,
  connection_id TEXT NOT NULL,
  doc TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_connection ON webhook_deliveries (tenant_id, connection_id, seq);
DROP INDEX IF EXISTS webhook_deliveries_settled;
CREATE INDEX IF NOT EXISTS webhook_deliveries_settled_v2 ON webhook_deliveries (tenant_id, connection_id, seq)
  WHERE json_extract(doc, '$.status') NOT IN ('received', 'held');
CREATE INDEX IF NOT EXISTS webhook_deliveries_held ON webhook_deliveries (tenant_id, connection_id, seq)
  WHERE json_extract(doc, '$.status') = 'held';
CREATE TABLE IF NOT EXISTS webhook_health (
  connection_id TEXT PRIMARY KEY,
  received INTEGER NOT NULL DEFAULT 0,
  rejected INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  last_received_at TEXT,
  last_rejected_at TEXT,
  last_failure_at TEXT,
  last_error TEXT
);
`;

type Row = { seq: number; doc: string; body: string };

function encodeCursor(seq: number): string {
  return Buffer.from(`d:${seq}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^d:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new SyncBridgeError('validation', 'cursor is not one this API handed out.');
  return Number(match[1]);
}

export interface SqliteDeliveryStoreOptions {
  /**
   * Deliveries kept per connection; older ones are purged (bodies are up to the intake's size
   * limit, so an unbounded log would fill the disk), except those still `received` or `held` (not
   * applied yet), which stay however many there are. Default 10,000.
   */
  retainPerConnection?: number;
  /** The purge runs for a connection after every this many of its inserts. Default 100. */
  purgeEveryInserts?: number;
}

/** DeliveryStore on SQLite: the delivery log and per-connection webhook health. */
export class SqliteDeliveryStore implements DeliveryStore {
  private readonly retain: number;
  private readonly purgeEvery: number;
  private readonly insertsSincePurge = new Map<string, number>();
  private readonly purgeOld;
  private readonly insertRow;
  private readonly countReceived;
  private readonly selectById;
  private readonly selectStoredIds;
  private readonly selectPage;
  private readonly selectHeld;
  private readonly patchDoc;
  private readonly bump: Record<WebhookHealthEvent, { run(connectionId: string, count: number, at: string, detail: string | null): unknown }>;
  private readonly selectHealth;
  private readonly insertManyTx;

  constructor(db: SqliteDatabase, options: SqliteDeliveryStoreOptions = {}) {
    this.retain = options.retainPerConnection ?? 10_000;
    this.purgeEvery = options.purgeEveryInserts ?? 100;
    for (const [name, value] of [['retainPerConnection', this.retain], ['purgeEveryInserts', this.purgeEvery]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new SyncBridgeError('configuration', `${name} must be a whole number of at least 1, got ${value}.`);
    }
    db.exec(SCHEMA);
    // Everything at or below the seq of the (retain+1)-th newest row goes, except deliveries still
    // `received` or `held`: their change has not been applied yet (a worker that finds its delivery
    // gone skips it; a held one is enqueued again from here on resume), so purging one would drop a
    // change (a backlog can outgrow the retention while the worker is down or the connection paused). The partial index holds only settled rows, so a purge never re-reads a
    // waiting backlog (its condition must match the index's word for word for SQLite to use it).
    this.purgeOld = db.prepare<[string, string, string, string, number]>(`
      DELETE FROM webhook_deliveries WHERE tenant_id = ? AND connection_id = ? AND seq <= (
        SELECT seq FROM webhook_deliveries WHERE tenant_id = ? AND connection_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)
        AND json_extract(doc, '$.status') NOT IN ('received', 'held')`);
    this.insertRow = db.prepare<[string, string, string, string, string]>(
      'INSERT INTO webhook_deliveries (id, tenant_id, connection_id, doc, body) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
    );
    const upsert = (column: 'received' | 'rejected' | 'failures', at: string, withError: boolean) =>
      db.prepare<[string, number, string, string | null]>(`
        INSERT INTO webhook_health (connection_id, ${column}, ${at}, last_error) VALUES (?, ?, ?, ?)
        ON CONFLICT (connection_id) DO UPDATE SET ${column} = ${column} + excluded.${column}, ${at} = excluded.${at}${withError ? ', last_error = excluded.last_error' : ''}`);
    this.countReceived = upsert('received', 'last_received_at', false);
    this.bump = {
      received: this.countReceived,
      rejected: upsert('rejected', 'last_rejected_at', true),
      failed: upsert('failures', 'last_failure_at', true),
    };
    this.selectById = db.prepare<[string], Row>('SELECT seq, doc, body FROM webhook_deliveries WHERE id = ?');
    this.selectStoredIds = db.prepare<[string], { id: string }>('SELECT id FROM webhook_deliveries WHERE id IN (SELECT value FROM json_each(?))');
    this.selectPage = db.prepare<[string, string, number, number], Row>(
      'SELECT seq, doc, \'\' AS body FROM webhook_deliveries WHERE tenant_id = ? AND connection_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
    );
    this.selectHeld = db.prepare<[string, string, number], Row>(
      "SELECT seq, doc, '' AS body FROM webhook_deliveries WHERE tenant_id = ? AND connection_id = ? AND json_extract(doc, '$.status') = 'held' ORDER BY seq LIMIT ?",
    );
    this.patchDoc = db.prepare<[string, string]>('UPDATE webhook_deliveries SET doc = json_patch(doc, ?) WHERE id = ?');
    this.selectHealth = db.prepare<[string], Record<string, unknown>>('SELECT * FROM webhook_health WHERE connection_id = ?');
    // Rows and their health counts commit together: one WAL append per batch, and one health
    // write per connection (its new deliveries counted, received at the latest of them, as the
    // Cosmos DB store counts).
    this.insertManyTx = db.transaction((deliveries: readonly Delivery[]): boolean[] => {
      const received = new Map<string, { count: number; at: string }>();
      const inserted = deliveries.map((delivery) => {
        const { body, ...doc } = delivery;
        const isNew = this.insertRow.run(delivery.id, delivery.tenantId, delivery.connectionId, JSON.stringify(doc), body).changes === 1;
        if (isNew) {
          const seen = received.get(delivery.connectionId);
          received.set(delivery.connectionId, { count: (seen?.count ?? 0) + 1, at: seen && seen.at > delivery.receivedAt ? seen.at : delivery.receivedAt });
        }
        return isNew;
      });
      for (const [connectionId, { count, at }] of received) this.countReceived.run(connectionId, count, at, null);
      return inserted;
    });
  }

  async insert(delivery: Delivery): Promise<boolean> {
    return (await this.insertMany([delivery]))[0];
  }

  async insertMany(deliveries: readonly Delivery[]): Promise<boolean[]> {
    const results = this.insertManyTx(deliveries);
    deliveries.forEach((delivery, i) => {
      if (!results[i]) return;
      const count = (this.insertsSincePurge.get(delivery.connectionId) ?? 0) + 1;
      this.insertsSincePurge.set(delivery.connectionId, count % this.purgeEvery);
      if (count >= this.purgeEvery) this.purgeOld.run(delivery.tenantId, delivery.connectionId, delivery.tenantId, delivery.connectionId, this.retain);
    });
    return results;
  }

  /** Which of these delivery ids have a row (one read; the journal drain's direct apply, journalApply.ts). */
  storedIds(ids: readonly string[]): Set<string> {
    if (ids.length === 0) return new Set();
    return new Set(this.selectStoredIds.all(JSON.stringify(ids)).map((row) => row.id));
  }

  async get(id: string): Promise<Delivery | undefined> {
    const row = this.selectById.get(id);
    return row ? { ...(JSON.parse(row.doc) as Omit<Delivery, 'body'>), body: row.body } : undefined;
  }

  /** Pages carry no bodies (they may be a megabyte each); `get` returns one with its body. */
  async list(query: DeliveryListQuery): Promise<DeliveryPage> {
    if (!Number.isInteger(query.limit) || query.limit < 1) throw new SyncBridgeError('validation', `limit must be a whole number of at least 1, got ${query.limit}.`);
    const before = query.cursor === undefined ? Number.MAX_SAFE_INTEGER : decodeCursor(query.cursor);
    const rows = this.selectPage.all(query.tenantId, query.connectionId, before, query.limit + 1);
    const page = rows.slice(0, query.limit);
    return {
      deliveries: page.map((row) => ({ ...(JSON.parse(row.doc) as Omit<Delivery, 'body'>), body: '' })),
      nextCursor: rows.length > query.limit ? encodeCursor(page[page.length - 1].seq) : null,
    };
  }

  async listHeld(tenantId: string, connectionId: string, limit: number): Promise<Delivery[]> {
    return this.selectHeld.all(tenantId, connectionId, limit).map((row) => ({ ...(JSON.parse(row.doc) as Omit<Delivery, 'body'>), body: '' }));
  }

  /** One statement: the change is merged into the stored document (JSON merge patch; undefined clears a field). */
  async update(id: string, change: Partial<Pick<Delivery, 'status' | 'detail' | 'eventType' | 'replays' | 'settledBy'>>, at: IsoTime): Promise<boolean> {
    const patch: Record<string, unknown> = { updatedAt: at };
    for (const [key, value] of Object.entries(change)) patch[key] = value === undefined ? null : value;
    return this.patchDoc.run(JSON.stringify(patch), id).changes === 1;
  }

  async recordHealth(connectionId: string, event: WebhookHealthEvent, at: IsoTime, detail?: string, count = 1): Promise<void> {
    this.bump[event].run(connectionId, count, at, detail ?? null);
  }

  async health(connectionId: string): Promise<WebhookHealth> {
    const row = this.selectHealth.get(connectionId);
    return {
      connectionId,
      received: Number(row?.received ?? 0),
      rejected: Number(row?.rejected ?? 0),
      failures: Number(row?.failures ?? 0),
      lastReceivedAt: (row?.last_received_at as string | null | undefined) ?? null,
      lastRejectedAt: (row?.last_rejected_at as string | null | undefined) ?? null,
      lastFailureAt: (row?.last_failure_at as string | null | undefined) ?? null,
      lastError: (row?.last_error as string | null | undefined) ?? null,
    };
  }
}
