import { SyncBridgeError } from '../../core/errors';
import type { Connection } from '../../core/model';
import type { ConnectionStore } from '../../ports/connectionStore';
import type { SqliteDatabase } from './database';
import { isUniqueViolation } from './sqliteConstraint';

export interface SqliteConnectionStoreOptions {
  /** Connections listAll returns when the caller gives no limit. Default 100. */
  defaultListLimit?: number;
  /** The most connections one listAll call returns, whatever the caller asks. Default 1,000. */
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
    this.defaultListLimit = positiveInteger(options.defaultListLimit ?? 100, 'defaultListLimit', 'configuration');
    this.maxListLimit = positiveInteger(options.maxListLimit ?? 1000, 'maxListLimit', 'configuration');
    db.exec(SCHEMA);
    this.insert = db.prepare<[string, string, number, string]>('INSERT INTO connections (id, tenant_id, version, doc) VALUES (?, ?, ?, ?)');
    this.selectById = db.prepare<[string], { doc: string }>('SELECT doc FROM connections WHERE id = ?');
    // The tenant is part of the WHERE clause so that an update can never move a connection
    // between tenants: a changed tenantId finds no row and fails like a missing connection.
    this.updateIfVersion = db.prepare<[number, string, string, string, number]>(
      'UPDATE connections SET version = ?, doc = ? WHERE id = ? AND tenant_id = ? AND version = ?',
    );
    this.selectByTenant = db.prepare<[string], { doc: string }>('SELECT doc FROM connections WHERE tenant_id = ? ORDER BY id');
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

  async listByTenant(tenantId: string): Promise<Connection[]> {
    return this.selectByTenant.all(tenantId).map((row) => JSON.parse(row.doc) as Connection);
  }

  async listAll(options: { afterId?: string; limit?: number } = {}): Promise<Connection[]> {
    const limit = Math.min(positiveInteger(options.limit ?? this.defaultListLimit, 'limit', 'validation'), this.maxListLimit);
    // '' sorts before every id, so "no afterId" is the same statement.
    return this.selectAfter.all(options.afterId ?? '', limit).map((row) => JSON.parse(row.doc) as Connection);
  }
}

function positiveInteger(value: number, name: string, code: 'configuration' | 'validation'): number {
  if (!Number.isInteger(value) || value < 1) throw new SyncBridgeError(code, `${name} must be a whole number of at least 1, got ${value}.`);
  return value;
}
