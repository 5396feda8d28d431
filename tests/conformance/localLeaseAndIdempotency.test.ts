import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../shared/core/manualClock';
import { openDatabase, type SqliteDatabase } from '../../shared/platform/local/database';
import { SqliteIdempotencyStore } from '../../shared/platform/local/sqliteIdempotencyStore';
import { SqliteLeaseStore } from '../../shared/platform/local/sqliteLeaseStore';
import { expectSyncBridgeError } from './fixtures';

describe('SqliteLeaseStore and SqliteIdempotencyStore (local choices)', () => {
  let dir: string;
  let db: SqliteDatabase;
  let clock: ManualClock;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncbridge-leases-'));
    db = openDatabase(join(dir, 'syncbridge.db'));
    clock = new ManualClock('2026-03-01T09:00:00.000Z');
  });
  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a TTL that is not a positive number of milliseconds', async () => {
    const leases = new SqliteLeaseStore(db, { clock });
    const keys = new SqliteIdempotencyStore(db, { clock });
    for (const ttl of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expectSyncBridgeError(leases.acquire('l', 'me', ttl), 'validation');
      await expectSyncBridgeError(keys.claim('k', ttl), 'validation');
    }
  });

  it('holds a lease for exactly its TTL by the injected clock', async () => {
    const leases = new SqliteLeaseStore(db, { clock });
    const lease = await leases.acquire('refresh', 'a', 10_000);
    expect(lease?.expiresAt).toBe('2026-03-01T09:00:10.000Z');
    clock.advance(9_999);
    expect(await leases.acquire('refresh', 'b', 10_000)).toBeUndefined();
    clock.advance(1);
    expect(await leases.acquire('refresh', 'b', 10_000)).toMatchObject({ owner: 'b' });
  });

  it('sees leases taken through another handle on the same file (another process)', async () => {
    const other = openDatabase(join(dir, 'syncbridge.db'));
    try {
      await new SqliteLeaseStore(other, { clock }).acquire('singleton', 'process-1', 60_000);
      expect(await new SqliteLeaseStore(db, { clock }).acquire('singleton', 'process-2', 60_000)).toBeUndefined();
    } finally {
      other.close();
    }
  });

  it('refuses to complete a key nobody claimed, as not_found', async () => {
    const keys = new SqliteIdempotencyStore(db, { clock });
    await expectSyncBridgeError(keys.complete('never-claimed', { ok: true }), 'not_found');
  });

  it('refuses a result that is not JSON-serialisable, as validation, and keeps the claim open', async () => {
    const keys = new SqliteIdempotencyStore(db, { clock });
    await keys.claim('k', 60_000);
    await expectSyncBridgeError(keys.complete('k', { big: BigInt(1) }), 'validation');
    expect(await keys.claim('k', 60_000)).toEqual({ claimed: false });
  });

  it('records a completion without a result as a null result', async () => {
    const keys = new SqliteIdempotencyStore(db, { clock });
    await keys.claim('k', 60_000);
    await keys.complete('k', undefined);
    expect(await keys.claim('k', 60_000)).toEqual({ claimed: false, result: null });
  });

  it('purges expired keys now and then, so the table does not grow forever', async () => {
    const keys = new SqliteIdempotencyStore(db, { clock, purgeEveryClaims: 10 });
    for (let i = 0; i < 9; i += 1) await keys.claim(`old-${i}`, 1_000);
    clock.advance(5_000);
    await keys.claim('fresh', 1_000); // the tenth claim purges
    const remaining = db.prepare('SELECT key FROM idempotency_keys ORDER BY key').all() as Array<{ key: string }>;
    expect(remaining.map((r) => r.key)).toEqual(['fresh']);
  });

  it('claims and completes many keys each with its own result, and reads a completed result back without claiming', async () => {
    const keys = new SqliteIdempotencyStore(db, { clock });
    await keys.claim('held', 60_000);
    await keys.claim('done-before', 60_000);
    await keys.complete('done-before', 'enqueued');
    const taken = keys.claimManyCompleted([{ key: 'a', result: 'dlv_a' }, { key: 'held', result: 'dlv_h' }, { key: 'b', result: { id: 'dlv_b' } }], 60_000);
    expect(taken).toEqual([true, false, true]);
    expect(keys.completedResult('a')).toBe('dlv_a');
    expect(keys.completedResult('b')).toEqual({ id: 'dlv_b' });
    // A live claim is left alone: held stays held (no result), a completed one keeps its own.
    expect(keys.completedResult('held')).toBeUndefined();
    expect(keys.peek('held')).toBe('held');
    expect(keys.completedResult('done-before')).toBe('enqueued');
    expect(keys.completedResult('never')).toBeUndefined();
    clock.advance(60_001);
    expect(keys.completedResult('a')).toBeUndefined();
    expect(keys.peek('a')).toBe('free');
  });

  it('peeks many keys at once, one by one below four keys and in one statement from four, as peek does each', async () => {
    const keys = new SqliteIdempotencyStore(db, { clock });
    await keys.claim('held', 60_000);
    await keys.claim('done', 60_000);
    await keys.complete('done', 'dlv_d');
    await keys.claim('short', 1_000);
    await keys.complete('short', 'dlv_s');
    clock.advance(1_001);
    await keys.claim('we"ird\\key', 60_000);
    const names = ['held', 'done', 'short', 'never', 'done', 'we"ird\\key'];
    for (const count of [1, 2, 3, 4, 6]) {
      const asked = names.slice(0, count);
      const live = keys.peekMany(asked);
      const expected = new Map(asked.filter((k) => keys.peek(k) !== 'free').map((k) => [k, keys.peek(k)]));
      expect(live).toEqual(expected);
    }
    expect(keys.peekMany(names)).toEqual(new Map([['held', 'held'], ['done', 'completed'], ['we"ird\\key', 'held']]));
    expect(keys.peekMany([])).toEqual(new Map());
  });

  it('refuses a purge interval below 1 at construction', () => {
    expect(() => new SqliteIdempotencyStore(db, { purgeEveryClaims: 0 })).toThrow(/purgeEveryClaims/);
  });
});
