import { SyncBridgeError } from '../../../core/errors';
import { systemClock, type Clock } from '../../../ports/clock';
import type { IdempotencyClaim, IdempotencyStore } from '../../../ports/idempotencyStore';
import { idempotencyResultJson } from '../../idempotencyResult';
import { readItem } from './cosmosCalls';
import type { CosmosDatabase } from './cosmosDatabase';
import { createIfAbsent, deleteItem, replaceIfMatch } from './cosmosDocs';
import { safeDocId } from './safeId';

type KeyDoc = { id: string; key: string; expiresAtMs: number; completed: boolean; result?: unknown; ttl: number; _etag?: string };

/**
 * Idempotency keys in `idempotency` (key /id). A claim creates the key's document with its own
 * `ttl` (seconds, rounded up), so Cosmos deletes expired keys by itself; until it does, an expired
 * document is taken over with If-Match, judged by `expiresAtMs` and the injected clock.
 */
export class CosmosIdempotencyStore implements IdempotencyStore {
  private readonly container;
  private readonly charges;
  private readonly clock: Clock;

  constructor(db: CosmosDatabase, options: { clock?: Clock } = {}) {
    this.container = db.container('idempotency');
    this.charges = db.charges;
    this.clock = options.clock ?? systemClock;
  }

  async claim(key: string, ttlMs: number): Promise<IdempotencyClaim> {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new SyncBridgeError('validation', `ttlMs must be a positive number of milliseconds, got ${ttlMs}.`);
    const id = safeDocId('key', key);
    const now = this.clock.now().getTime();
    const doc: KeyDoc = { id, key, expiresAtMs: now + ttlMs, completed: false, ttl: Math.max(1, Math.ceil(ttlMs / 1000)) };
    if (await createIfAbsent(this.container, this.charges, 'idempotency.claim', doc)) return { claimed: true };
    const current = await readItem<KeyDoc>(this.container, this.charges, 'idempotency.claim', id, id);
    if (!current) return { claimed: false }; // released between the two calls: the race is lost, safely
    if (current.expiresAtMs <= now && (await replaceIfMatch(this.container, this.charges, 'idempotency.claim', doc, id, current._etag!))) return { claimed: true };
    return current.completed ? { claimed: false, result: current.result } : { claimed: false };
  }

  /**
   * Keys live in partitions of their own, so there is no batch to share: distinct keys are claimed
   * in parallel, and a repeated key loses to its first mention without another request.
   */
  async claimMany(keys: readonly string[], ttlMs: number): Promise<IdempotencyClaim[]> {
    const distinct = [...new Set(keys)];
    const claims = new Map(await Promise.all(distinct.map(async (key) => [key, await this.claim(key, ttlMs)] as const)));
    const mentioned = new Set<string>();
    return keys.map((key) => {
      const claim = claims.get(key)!;
      if (mentioned.has(key)) return claim.claimed ? { claimed: false } : claim;
      mentioned.add(key);
      return claim;
    });
  }

  async complete(key: string, result: unknown, options: { ttlMs?: number } = {}): Promise<void> {
    const { ttlMs } = options;
    if (ttlMs !== undefined && (!Number.isFinite(ttlMs) || ttlMs <= 0)) throw new SyncBridgeError('validation', `ttlMs must be a positive number of milliseconds, got ${ttlMs}.`);
    const json = idempotencyResultJson(key, result);
    const id = safeDocId('key', key);
    const current = await readItem<KeyDoc>(this.container, this.charges, 'idempotency.complete', id, id);
    if (!current) throw new SyncBridgeError('not_found', `Idempotency key ${key} is not claimed; claim it before completing it.`);
    const next: KeyDoc = {
      ...current,
      completed: true,
      result: JSON.parse(json) as unknown,
      ...(ttlMs === undefined ? {} : { expiresAtMs: this.clock.now().getTime() + ttlMs, ttl: Math.max(1, Math.ceil(ttlMs / 1000)) }),
    };
    delete next._etag;
    if (!(await replaceIfMatch(this.container, this.charges, 'idempotency.complete', next, id, current._etag!))) {
      throw new SyncBridgeError('conflict', `Idempotency key ${key} changed while it was being completed.`);
    }
  }

  async release(key: string): Promise<void> {
    const id = safeDocId('key', key);
    await deleteItem(this.container, this.charges, 'idempotency.release', id, id);
  }
}
