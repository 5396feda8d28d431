import { SyncBridgeError } from '../../core/errors';
import type { Connection } from '../../core/model';
import { DEFAULT_CONNECTION_PAGE_SIZE, MAX_CONNECTION_PAGE_SIZE, type ConnectionListQuery, type ConnectionPage, type ConnectionStore } from '../../ports/connectionStore';
import type { SqliteDatabase } from './database';
import { isUniqueViolation } from './sqliteConstraint';

export interface SqliteConnectionStoreOptions {
  /** Connections listAll and listByTenant return when the caller gives no limit. Default 100. */
  defaultListLimit?: number;
  /** The most connections one listAll or listByTenant call returns, whatever the caller asks. Default 1,000. */
  maxListLimit?: number;
}

/**
 * The connection document is stored whole as JSON. The id is the primary key across tenants
 * (connection ids double as Service Bus session ids); tenant_id is a column only so that a
 * tenant's connections are one index range.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS connections (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS connections_by_tenant ON connections (tenant_id, id);
`;

/** ConnectionStore on SQLite. */
export class SqliteConnectionStore implements ConnectionStore {
  private readonly defaultListLimit: number;
  private readonly maxListLimit: number;
  private readonly insert;
  private readonly selectById;
  private readonly updateIfVersion;
  private readonly selectByTenant;
  private readonly selectAfter;

  constructor(db: SqliteDatabase, options: SqliteConnectionStoreOptions = {}) {
    this.defaultListLimit = positiveInteger(options.defaultListLimit ?? DEFAULT_CONNECTION_PAGE_SIZE, 'defaultListLimit', 'configuration');
    this.maxListLimit = positiveInteger(options.maxListLimit ?? MAX_CONNECTION_PAGE_SIZE, 'maxListLimit', 'configuration');
    db.exec(SCHEMA);
    this.insert = db.prepare<[string, string, number, string]>('INSERT INTO connections (id, tenant_id, version, doc) VALUES (?, ?, ?, ?)');
    this.selectById = db.prepare<[string], { doc: string }>('SELECT doc FROM connections WHERE id = ?');
    // The tenant is part of the WHERE clause so that an update can never move a connection
    // between tenants: a changed tenantId finds no row and fails like a missing connection.
    this.updateIfVersion = db.prepare<[number, string, string, string, number]>(
      'UPDATE connections SET version = ?, doc = ? WHERE id = ? AND tenant_id = ? AND version = ?',
    );
    // One range of connections_by_tenant; '' sorts before every id, so the first page is the same statement.
    this.selectByTenant = db.prepare<[string, string, number], { id: string; doc: string }>(
      'SELECT id, doc FROM connections WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?',
    );
    this.selectAfter = db.prepare<[string, number], { doc: string }>('SELECT doc FROM connections WHERE id > ? ORDER BY id LIMIT ?');
  }

  async create(connection: Connection): Promise<Connection> {
    // Creation is a write like any other, so the stored connection starts at version 1.
    const stored: Connection = { ...connection, version: 1 };
    try {
      this.insert.run(stored.id, stored.tenantId, stored.version, JSON.stringify(stored));
    } catch (error) {
      if (isUniqueViolation(error)) throw new SyncBridgeError('conflict', `Connection ${connection.id} already exists.`, { cause: error });
      throw error;
    }
    return stored;
  }

  async get(id: string): Promise<Connection | undefined> {
    const row = this.selectById.get(id);
    return row ? (JSON.parse(row.doc) as Connection) : undefined;
  }

  async update(connection: Connection): Promise<Connection> {
    const stored: Connection = { ...connection, version: connection.version + 1 };
    const result = this.updateIfVersion.run(stored.version, JSON.stringify(stored), connection.id, connection.tenantId, connection.version);
    if (result.changes === 1) return stored;
    const current = await this.get(connection.id);
    if (!current || current.tenantId !== connection.tenantId) {
      throw new SyncBridgeError('not_found', `Connection ${connection.id} does not exist.`);
    }
    throw new SyncBridgeError('conflict', `Connection ${connection.id} changed since version ${connection.version} was read; read it again and retry.`);
  }

  async listByTenant(query: ConnectionListQuery): Promise<ConnectionPage> {
    const limit = this.pageLimit(query.limit);
    const after = query.cursor === undefined ? '' : decodeCursor(query.cursor);
    // One row more than the page tells whether another page follows.
    const rows = this.selectByTenant.all(query.tenantId, after, limit + 1);
    const page = rows.slice(0, limit);
    return {
      connections: page.map((row) => JSON.parse(row.doc) as Connection),
      nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1].id) : null,
    };
  }

  async listAll(options: { afterId?: string; limit?: number } = {}): Promise<Connection[]> {
    const limit = this.pageLimit(options.limit);
    // '' sorts before every id, so "no afterId" is the same statement.
    return this.selectAfter.all(options.afterId ?? '', limit).map((row) => JSON.parse(row.doc) as Connection);
  }

  private pageLimit(requested: number | undefined): number {
    return Math.min(positiveInteger(requested ?? this.defaultListLimit, 'limit', 'validation'), this.maxListLimit);
  }
}

/** The cursor is the last id of the page, tagged so that another list's cursor is refused. */
function encodeCursor(lastId: string): string {
  return Buffer.from(`n:${lastId}`).toString('base64url');
}

function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith('n:') || text.length <= 2) throw new SyncBridgeError('validation', 'cursor is not one this API handed out.');
  return text.slice(2);
}

function positiveInteger(value: number, name: string, code: 'configuration' | 'validation'): number {
  if (!Number.isInteger(value) || value < 1) throw new SyncBridgeError(code, `${name} must be a whole number of at least 1, got ${value}.`);
  return value;
}
