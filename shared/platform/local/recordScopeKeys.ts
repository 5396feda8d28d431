import type { RecordScope } from '../../core/model';
import type { SqliteDatabase } from './database';
import { commitNow } from './turnCommit';

/** Small integer stand-ins for (tenant, connection) and (tenant, connection, entity). */
export interface RecordScopeKey {
  scopeKey: number;
  connectionKey: number;
}

/**
 * Every record row and index entry carries two integers instead of the tenant, connection and
 * entity strings (often 70+ bytes together). On a 500,000-record connection that keeps the three
 * record indexes a fraction of their size, which is most of the write cost of a first sync.
 *
 * Keys are created once and never change or disappear, so they are cached for the life of the
 * store. They are created in their own small transaction before the records that use them, and
 * cached only after they are committed: a cached key always names a row that exists. When a
 * caller runs the store inside its own transaction (an outbox write, say), nothing read or
 * created there is cached, because that transaction may still roll back and another process
 * could then reuse the key for a different scope. On a handle that commits per event-loop turn
 * (turnCommit.ts) the turn is committed before a key is cached: once per key, not per write.
 */
export class RecordScopeKeys {
  private readonly byScope = new Map<string, RecordScopeKey>();
  private readonly byKey = new Map<number, RecordScope>();
  private readonly connectionKeys = new Map<string, number>();
  private readonly selectScope;
  private readonly selectScopeByKey;
  private readonly selectConnection;
  private readonly insertConnection;
  private readonly insertScope;

  constructor(private readonly db: SqliteDatabase) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS record_connections (
        connection_key INTEGER PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        connection_id TEXT NOT NULL,
        UNIQUE (tenant_id, connection_id)
      );
      CREATE TABLE IF NOT EXISTS record_scopes (
        scope_key INTEGER PRIMARY KEY,
        connection_key INTEGER NOT NULL REFERENCES record_connections (connection_key),
        entity TEXT NOT NULL,
        UNIQUE (connection_key, entity)
      );`);
    this.selectConnection = db.prepare<[string, string], { connection_key: number }>(
      'SELECT connection_key FROM record_connections WHERE tenant_id = ? AND connection_id = ?',
    );
    this.selectScope = db.prepare<[number, string], { scope_key: number }>(
      'SELECT scope_key FROM record_scopes WHERE connection_key = ? AND entity = ?',
    );
    this.selectScopeByKey = db.prepare<[number], { tenant_id: string; connection_id: string; entity: string; connection_key: number }>(`
      SELECT c.tenant_id, c.connection_id, s.entity, s.connection_key FROM record_scopes s
      JOIN record_connections c ON c.connection_key = s.connection_key WHERE s.scope_key = ?`);
    this.insertConnection = db.prepare('INSERT OR IGNORE INTO record_connections (tenant_id, connection_id) VALUES (?, ?)');
    this.insertScope = db.prepare('INSERT OR IGNORE INTO record_scopes (connection_key, entity) VALUES (?, ?)');
  }

  /** The connection's key, or undefined when no record of it was ever written. */
  findConnection(tenantId: string, connectionId: string): number | undefined {
    const cacheKey = JSON.stringify([tenantId, connectionId]);
    const cached = this.connectionKeys.get(cacheKey);
    if (cached !== undefined) return cached;
    const row = this.selectConnection.get(tenantId, connectionId);
    if (row && this.committed()) this.connectionKeys.set(cacheKey, row.connection_key);
    return row?.connection_key;
  }

  /** The scope's keys, or undefined when no record of it was ever written. */
  find(scope: RecordScope): RecordScopeKey | undefined {
    const cacheKey = scopeCacheKey(scope);
    const cached = this.byScope.get(cacheKey);
    if (cached) return cached;
    const connectionKey = this.findConnection(scope.tenantId, scope.connectionId);
    if (connectionKey === undefined) return undefined;
    const row = this.selectScope.get(connectionKey, scope.entity);
    if (!row) return undefined;
    return this.remember(cacheKey, { scopeKey: row.scope_key, connectionKey }, scope);
  }

  /** The scope's keys, created (and committed) first when needed. */
  ensure(scope: RecordScope): RecordScopeKey {
    const found = this.find(scope);
    if (found) return found;
    this.db.transaction(() => {
      this.insertConnection.run(scope.tenantId, scope.connectionId);
      const connectionKey = this.selectConnection.get(scope.tenantId, scope.connectionId)!.connection_key;
      this.insertScope.run(connectionKey, scope.entity);
    }).immediate();
    return this.find(scope)!;
  }

  /** The scope a key stands for (keys seen in rows always exist). */
  describe(scopeKey: number): RecordScope {
    const cached = this.byKey.get(scopeKey);
    if (cached) return cached;
    const row = this.selectScopeByKey.get(scopeKey);
    if (!row) throw new Error(`Record scope key ${scopeKey} has no row in record_scopes; the database is damaged.`);
    const scope = { tenantId: row.tenant_id, connectionId: row.connection_id, entity: row.entity };
    this.remember(scopeCacheKey(scope), { scopeKey, connectionKey: row.connection_key }, scope);
    return scope;
  }

  /**
   * Whether what this handle reads now is committed. On a handle that commits per turn
   * (turnCommit.ts) the turn is committed first, once per key for the life of the store; inside a
   * caller's own transaction nothing is.
   */
  private committed(): boolean {
    if (this.db.inTransaction) commitNow(this.db);
    return !this.db.inTransaction;
  }

  private remember(cacheKey: string, key: RecordScopeKey, scope: RecordScope): RecordScopeKey {
    if (!this.committed()) return key; // possibly uncommitted: see the class comment
    this.byScope.set(cacheKey, key);
    this.byKey.set(key.scopeKey, { tenantId: scope.tenantId, connectionId: scope.connectionId, entity: scope.entity });
    return key;
  }
}

function scopeCacheKey(scope: RecordScope): string {
  // JSON keeps ('a|b', 'c') and ('a', 'b|c') apart whatever characters the ids contain.
  return JSON.stringify([scope.tenantId, scope.connectionId, scope.entity]);
}
