import { SyncBridgeError } from '../../core/errors';
import type { ApiKeyRecord, Tenant } from '../../core/model';
import type { TenantStore } from '../../ports/tenantStore';
import type { SqliteDatabase } from './database';
import { isUniqueViolation } from './sqliteConstraint';

/**
 * Tenants and their API keys. Keys are stored only as SHA-256 hashes (the port's contract), with
 * a unique index on the hash: authentication is one index lookup, and one key can never belong to
 * two tenants.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS tenants (
  id TEXT PRIMARY KEY,
  doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_by_tenant ON api_keys (tenant_id, created_at);
`;

/** TenantStore on SQLite. */
export class SqliteTenantStore implements TenantStore {
  private readonly insertTenant;
  private readonly selectTenant;
  private readonly insertKey;
  private readonly selectKeyByHash;
  private readonly selectKeysByTenant;

  constructor(db: SqliteDatabase) {
    db.exec(SCHEMA);
    this.insertTenant = db.prepare<[string, string]>('INSERT INTO tenants (id, doc) VALUES (?, ?)');
    this.selectTenant = db.prepare<[string], { doc: string }>('SELECT doc FROM tenants WHERE id = ?');
    this.insertKey = db.prepare<[string, string, string, string, string]>(
      'INSERT INTO api_keys (id, tenant_id, key_hash, created_at, doc) VALUES (?, ?, ?, ?, ?)',
    );
    this.selectKeyByHash = db.prepare<[string], { doc: string }>('SELECT doc FROM api_keys WHERE key_hash = ?');
    this.selectKeysByTenant = db.prepare<[string], { doc: string }>('SELECT doc FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id');
  }

  async createTenant(tenant: Tenant): Promise<Tenant> {
    try {
      this.insertTenant.run(tenant.id, JSON.stringify(tenant));
    } catch (error) {
      if (isUniqueViolation(error)) throw new SyncBridgeError('conflict', `Tenant ${tenant.id} already exists.`, { cause: error });
      throw error;
    }
    return { ...tenant };
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const row = this.selectTenant.get(id);
    return row ? (JSON.parse(row.doc) as Tenant) : undefined;
  }

  async addApiKey(key: ApiKeyRecord): Promise<ApiKeyRecord> {
    try {
      this.insertKey.run(key.id, key.tenantId, key.keyHash, key.createdAt, JSON.stringify(key));
    } catch (error) {
      // The message names the key id only: the hash identifies a credential and stays out of errors.
      if (isUniqueViolation(error)) throw new SyncBridgeError('conflict', `API key ${key.id} (or one with the same hash) already exists.`, { cause: error });
      throw error;
    }
    return { ...key };
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const row = this.selectKeyByHash.get(keyHash);
    return row ? (JSON.parse(row.doc) as ApiKeyRecord) : undefined;
  }

  async listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    return this.selectKeysByTenant.all(tenantId).map((row) => JSON.parse(row.doc) as ApiKeyRecord);
  }
}
