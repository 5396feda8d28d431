import { SyncBridgeError } from '../../core/errors';
import type { IsoTime } from '../../core/model';
import { claimed, released, resolved } from '../../core/conflictClaims';
import type { Conflict, ConflictClaim, ConflictKind, ConflictListQuery, ConflictResolution, ConflictStats, ConflictStore } from '../../ports/conflictStore';
import type { SqliteDatabase } from './database';

const MAX_LIMIT = 500;

/** A conflict is one JSON document; tenant, connection, kind and state are columns for the API's filters. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS conflicts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL,
  connection_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conflicts_by_tenant_state ON conflicts (tenant_id, state, seq);
`;

function encodeCursor(seq: number): string {
  return Buffer.from(`c:${seq}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^c:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new SyncBridgeError('validation', 'cursor is not a cursor this API returned.');
  return Number(match[1]);
}

export class SqliteConflictStore implements ConflictStore {
  constructor(private readonly db: SqliteDatabase) {
    db.exec(SCHEMA);
  }

  async open(conflict: Conflict): Promise<Conflict> {
    this.db
      .prepare<[string, string, string, string, string, string]>(
        'INSERT INTO conflicts (id, tenant_id, connection_id, kind, state, doc) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
      )
      .run(conflict.id, conflict.tenantId, conflict.connectionId, conflict.kind, conflict.state, JSON.stringify(conflict));
    return (await this.get(conflict.tenantId, conflict.id))!;
  }

  async get(tenantId: string, id: string): Promise<Conflict | undefined> {
    const row = this.db.prepare<[string, string], { doc: string }>('SELECT doc FROM conflicts WHERE id = ? AND tenant_id = ?').get(id, tenantId);
    return row ? (JSON.parse(row.doc) as Conflict) : undefined;
  }

  async list(query: ConflictListQuery): Promise<{ conflicts: Conflict[]; nextCursor: string | null }> {
    if (!Number.isInteger(query.limit) || query.limit < 1) throw new SyncBridgeError('validation', `limit must be a whole number of at least 1, got ${query.limit}.`);
    const limit = Math.min(query.limit, MAX_LIMIT);
    const after = query.cursor === undefined ? 0 : decodeCursor(query.cursor);
    const where = ['tenant_id = @tenantId', 'seq > @after'];
    if (query.state) where.push('state = @state');
    if (query.connectionId) where.push('connection_id = @connectionId');
    const rows = this.db
      .prepare(`SELECT seq, doc FROM conflicts WHERE ${where.join(' AND ')} ORDER BY seq LIMIT @take`)
      .all({ tenantId: query.tenantId, after, state: query.state, connectionId: query.connectionId, take: limit + 1 }) as Array<{ seq: number; doc: string }>;
    const page = rows.slice(0, limit);
    return {
      conflicts: page.map((row) => JSON.parse(row.doc) as Conflict),
      nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1].seq) : null,
    };
  }

  async resolve(tenantId: string, id: string, resolution: ConflictResolution, at: IsoTime, options: { claimedBy?: string } = {}): Promise<Conflict> {
    return this.change(tenantId, id, (current) => resolved(current, resolution, at, options.claimedBy))!;
  }

  async claim(tenantId: string, id: string, claim: ConflictClaim, at: IsoTime): Promise<Conflict> {
    return this.change(tenantId, id, (current) => claimed(current, claim, at))!;
  }

  async release(tenantId: string, id: string, by: string): Promise<void> {
    try {
      this.change(tenantId, id, (current) => released(current, by));
    } catch (error) {
      if (!(error instanceof SyncBridgeError && error.code === 'not_found')) throw error;
    }
  }

  /** Reads, decides (`next`: null leaves the row alone) and writes in one transaction: a compare-and-set. */
  private change(tenantId: string, id: string, next: (current: Conflict) => Conflict | null): Conflict | null {
    return this.db.transaction(() => {
      const row = this.db.prepare<[string, string], { doc: string }>('SELECT doc FROM conflicts WHERE id = ? AND tenant_id = ?').get(id, tenantId);
      if (!row) throw new SyncBridgeError('not_found', `There is no conflict ${id}.`);
      const changed = next(JSON.parse(row.doc) as Conflict);
      if (changed) this.db.prepare<[string, string, string]>('UPDATE conflicts SET state = ?, doc = ? WHERE id = ?').run(changed.state, JSON.stringify(changed), id);
      return changed;
    })();
  }

  async stats(tenantId: string): Promise<ConflictStats[]> {
    const rows = this.db
      .prepare<[string], { connection_id: string; kind: ConflictKind; open: number; resolved: number }>(
        `SELECT connection_id, kind, sum(state = 'open') AS open, sum(state = 'resolved') AS resolved
         FROM conflicts WHERE tenant_id = ? GROUP BY connection_id, kind ORDER BY connection_id, kind`,
      )
      .all(tenantId);
    return rows.map((row) => ({ connectionId: row.connection_id, kind: row.kind, open: row.open, resolved: row.resolved }));
  }
}
