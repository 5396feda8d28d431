import { SyncBridgeError } from '../../core/errors';
import type { Run } from '../../core/model';
import type { RunStore } from '../../ports/runStore';
import type { SqliteDatabase } from './database';
import { isUniqueViolation } from './sqliteConstraint';

export interface SqliteRunStoreOptions {
  /** Runs listByConnection returns when the caller gives no limit. Default 50. */
  defaultListLimit?: number;
  /** The most runs one list call returns, whatever the caller asks. Default 1,000. */
  maxListLimit?: number;
}

/**
 * The run document is stored whole as JSON; the columns beside it exist only for the lookups the
 * port needs (by connection newest first, queued, running and active runs per tenant) and for the
 * optimistic-concurrency check, which runs inside the UPDATE itself.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  connection_id TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at TEXT NOT NULL,
  version INTEGER NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_connection ON runs (connection_id, created_at);
CREATE INDEX IF NOT EXISTS runs_by_tenant_state ON runs (tenant_id, state, created_at);
`;

const OPEN_STATES = `('queued', 'running', 'paused')`;
const ACTIVE_STATES = `('running', 'paused')`;

/** RunStore on SQLite. */
export class SqliteRunStore implements RunStore {
  private readonly defaultListLimit: number;
  private readonly maxListLimit: number;
  private readonly insert;
  private readonly selectById;
  private readonly updateIfVersion;
  private readonly selectByConnection;
  private readonly selectOpenByConnection;
  private readonly selectQueued;
  private readonly selectRunning;
  private readonly countActiveRuns;
  private readonly startIfRoom: (runId: string, maxActive: number, startedAt: string) => Run | undefined;

  constructor(db: SqliteDatabase, options: SqliteRunStoreOptions = {}) {
    this.defaultListLimit = positiveInteger(options.defaultListLimit ?? 50, 'defaultListLimit');
    this.maxListLimit = positiveInteger(options.maxListLimit ?? 1000, 'maxListLimit');
    db.exec(SCHEMA);
    this.insert = db.prepare<[string, string, string, string, string, number, string]>(
      'INSERT INTO runs (id, tenant_id, connection_id, state, created_at, version, doc) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.selectById = db.prepare<[string], { doc: string }>('SELECT doc FROM runs WHERE id = ?');
    this.updateIfVersion = db.prepare<[string, number, string, string, number]>(
      'UPDATE runs SET state = ?, version = ?, doc = ? WHERE id = ? AND version = ?',
    );
    // Ties on created_at (same millisecond) are broken by id, so the order is total and repeatable.
    this.selectByConnection = db.prepare<[string, number], { doc: string }>(
      'SELECT doc FROM runs WHERE connection_id = ? ORDER BY created_at DESC, id DESC LIMIT ?',
    );
    this.selectOpenByConnection = db.prepare<[string], { doc: string }>(
      `SELECT doc FROM runs WHERE connection_id = ? AND state IN ${OPEN_STATES} ORDER BY created_at DESC, id DESC`,
    );
    this.selectQueued = db.prepare<[string], { doc: string }>(
      `SELECT doc FROM runs WHERE tenant_id = ? AND state = 'queued' ORDER BY created_at ASC, id ASC`,
    );
    this.selectRunning = db.prepare<[string], { doc: string }>(
      `SELECT doc FROM runs WHERE tenant_id = ? AND state = 'running' ORDER BY created_at ASC, id ASC`,
    );
    this.countActiveRuns = db.prepare<[string], { n: number }>(
      `SELECT count(*) AS n FROM runs WHERE tenant_id = ? AND state IN ${ACTIVE_STATES}`,
    );

    // IMMEDIATE takes the write lock before the count, so two processes sharing the file cannot
    // both see room for one more run and both start (within one process better-sqlite3 is
    // synchronous, which already serialises callers).
    const start = db.transaction((runId: string, maxActive: number, startedAt: string): Run | undefined => {
      const row = this.selectById.get(runId);
      if (!row) return undefined;
      const run = JSON.parse(row.doc) as Run;
      // Held by its connection's pause (Run.pausedBy): it waits for the connection's resume.
      if (run.state !== 'queued' || run.pausedBy) return undefined;
      if (this.countActiveRuns.get(run.tenantId)!.n >= maxActive) return undefined;
      const started: Run = { ...run, state: 'running', startedAt, updatedAt: startedAt, version: run.version + 1 };
      this.updateIfVersion.run(started.state, started.version, JSON.stringify(started), run.id, run.version);
      return started;
    });
    this.startIfRoom = (runId, maxActive, startedAt) => start.immediate(runId, maxActive, startedAt);
  }

  async create(run: Run): Promise<Run> {
    // Creation is a write like any other, so the stored run starts at version 1.
    const stored: Run = { ...run, version: 1 };
    try {
      this.insert.run(stored.id, stored.tenantId, stored.connectionId, stored.state, stored.createdAt, stored.version, JSON.stringify(stored));
    } catch (error) {
      if (isUniqueViolation(error)) throw new SyncBridgeError('conflict', `Run ${run.id} already exists.`, { cause: error });
      throw error;
    }
    return stored;
  }

  async get(runId: string): Promise<Run | undefined> {
    const row = this.selectById.get(runId);
    return row ? (JSON.parse(row.doc) as Run) : undefined;
  }

  async update(run: Run): Promise<Run> {
    const stored: Run = { ...run, version: run.version + 1 };
    const result = this.updateIfVersion.run(stored.state, stored.version, JSON.stringify(stored), run.id, run.version);
    if (result.changes === 1) return stored;
    if (!this.selectById.get(run.id)) throw new SyncBridgeError('not_found', `Run ${run.id} does not exist.`);
    throw new SyncBridgeError('conflict', `Run ${run.id} changed since version ${run.version} was read; read it again and retry.`);
  }

  async listByConnection(connectionId: string, options: { limit?: number } = {}): Promise<Run[]> {
    const limit = Math.min(positiveInteger(options.limit ?? this.defaultListLimit, 'limit', 'validation'), this.maxListLimit);
    return this.selectByConnection.all(connectionId, limit).map((row) => JSON.parse(row.doc) as Run);
  }

  async listOpenByConnection(connectionId: string): Promise<Run[]> {
    return this.selectOpenByConnection.all(connectionId).map((row) => JSON.parse(row.doc) as Run);
  }

  async listQueued(tenantId: string): Promise<Run[]> {
    return this.selectQueued.all(tenantId).map((row) => JSON.parse(row.doc) as Run);
  }

  async listRunning(tenantId: string): Promise<Run[]> {
    return this.selectRunning.all(tenantId).map((row) => JSON.parse(row.doc) as Run);
  }

  async countActive(tenantId: string): Promise<number> {
    return this.countActiveRuns.get(tenantId)!.n;
  }

  async tryStart(runId: string, maxActivePerTenant: number, startedAt: string): Promise<Run | undefined> {
    return this.startIfRoom(runId, maxActivePerTenant, startedAt);
  }
}

function positiveInteger(value: number, name: string, code: 'configuration' | 'validation' = 'configuration'): number {
  if (!Number.isInteger(value) || value < 1) throw new SyncBridgeError(code, `${name} must be a whole number of at least 1, got ${value}.`);
  return value;
}
