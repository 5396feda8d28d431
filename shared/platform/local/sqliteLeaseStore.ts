import { randomUUID } from 'node:crypto';
import { SyncBridgeError } from '../../core/errors';
import { systemClock, type Clock } from '../../ports/clock';
import type { Lease, LeaseStore } from '../../ports/leaseStore';
import type { SqliteDatabase } from './database';

export interface SqliteLeaseStoreOptions {
  /** Decides when leases expire. Default the system clock; tests pass a ManualClock. */
  clock?: Clock;
}

/** Expiry is kept in epoch milliseconds so that comparisons are numeric, not textual. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  token TEXT NOT NULL,
  expires_at_ms INTEGER NOT NULL
);
`;

/**
 * LeaseStore on SQLite. Each operation is one statement whose WHERE clause carries the whole
 * condition (free or expired; still held by this token and unexpired), so the check and the
 * write are atomic without an explicit transaction, across processes sharing the file too.
 *
 * A lease past its expiry is no longer held, even if nobody has taken it yet: renew then returns
 * undefined, because work guarded by that lease may already have been done twice.
 */
export class SqliteLeaseStore implements LeaseStore {
  private readonly clock: Clock;
  private readonly take;
  private readonly extend;
  private readonly free;

  constructor(db: SqliteDatabase, options: SqliteLeaseStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    db.exec(SCHEMA);
    this.take = db.prepare<[string, string, string, number, number]>(`
      INSERT INTO leases (name, owner, token, expires_at_ms) VALUES (?, ?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, token = excluded.token, expires_at_ms = excluded.expires_at_ms
      WHERE leases.expires_at_ms <= ?`);
    this.extend = db.prepare<[number, string, string, number]>(
      'UPDATE leases SET expires_at_ms = ? WHERE name = ? AND token = ? AND expires_at_ms > ?',
    );
    this.free = db.prepare<[string, string]>('DELETE FROM leases WHERE name = ? AND token = ?');
  }

  async acquire(name: string, owner: string, ttlMs: number): Promise<Lease | undefined> {
    checkTtl(ttlMs);
    const now = this.clock.now().getTime();
    const token = randomUUID();
    const expiresAtMs = now + ttlMs;
    // changes is 0 when the upsert's WHERE refused: someone holds an unexpired lease.
    if (this.take.run(name, owner, token, expiresAtMs, now).changes === 0) return undefined;
    return { name, owner, token, expiresAt: new Date(expiresAtMs).toISOString() };
  }

  async renew(lease: Lease, ttlMs: number): Promise<Lease | undefined> {
    checkTtl(ttlMs);
    const now = this.clock.now().getTime();
    const expiresAtMs = now + ttlMs;
    if (this.extend.run(expiresAtMs, lease.name, lease.token, now).changes === 0) return undefined;
    return { ...lease, expiresAt: new Date(expiresAtMs).toISOString() };
  }

  async release(lease: Lease): Promise<void> {
    this.free.run(lease.name, lease.token);
  }
}

function checkTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new SyncBridgeError('validation', `ttlMs must be a positive number of milliseconds, got ${ttlMs}.`);
}
