import { randomUUID } from 'node:crypto';
import { SyncBridgeError } from '../../../core/errors';
import { systemClock, type Clock } from '../../../ports/clock';
import type { Lease, LeaseStore } from '../../../ports/leaseStore';
import { readItem } from './cosmosCalls';
import type { CosmosDatabase } from './cosmosDatabase';
import { createIfAbsent, deleteItem, replaceIfMatch } from './cosmosDocs';
import { safeDocId } from './safeId';

type LeaseDoc = { id: string; name: string; owner: string; token: string; expiresAtMs: number; _etag?: string };

/**
 * Leases in `leases` (key /id). Acquire creates the document, or takes over an expired one with
 * If-Match on the `_etag` it read: of two instances racing for an expired lease, one replace wins.
 * Expiry is a field compared with the injected clock, not a TTL, so an expired lease is still
 * there for the next owner to take over (and renew of an expired lease fails, as the port says).
 */
export class CosmosLeaseStore implements LeaseStore {
  private readonly container;
  private readonly charges;
  private readonly clock: Clock;

  constructor(db: CosmosDatabase, options: { clock?: Clock } = {}) {
    this.container = db.container('leases');
    this.charges = db.charges;
    this.clock = options.clock ?? systemClock;
  }

  async acquire(name: string, owner: string, ttlMs: number): Promise<Lease | undefined> {
    checkTtl(ttlMs);
    const id = safeDocId('lease', name);
    const now = this.clock.now().getTime();
    const doc: LeaseDoc = { id, name, owner, token: randomUUID(), expiresAtMs: now + ttlMs };
    const current = await readItem<LeaseDoc>(this.container, this.charges, 'leases.acquire', id, id);
    const taken = current
      ? current.expiresAtMs <= now && (await replaceIfMatch(this.container, this.charges, 'leases.acquire', doc, id, current._etag!))
      : await createIfAbsent(this.container, this.charges, 'leases.acquire', doc);
    return taken ? { name, owner, token: doc.token, expiresAt: new Date(doc.expiresAtMs).toISOString() } : undefined;
  }

  async renew(lease: Lease, ttlMs: number): Promise<Lease | undefined> {
    checkTtl(ttlMs);
    const id = safeDocId('lease', lease.name);
    const now = this.clock.now().getTime();
    const current = await readItem<LeaseDoc>(this.container, this.charges, 'leases.renew', id, id);
    if (!current || current.token !== lease.token || current.expiresAtMs <= now) return undefined;
    const expiresAtMs = now + ttlMs;
    if (!(await replaceIfMatch(this.container, this.charges, 'leases.renew', { ...current, expiresAtMs }, id, current._etag!))) return undefined;
    return { ...lease, expiresAt: new Date(expiresAtMs).toISOString() };
  }

  async release(lease: Lease): Promise<void> {
    const id = safeDocId('lease', lease.name);
    const current = await readItem<LeaseDoc>(this.container, this.charges, 'leases.release', id, id);
    if (current && current.token === lease.token) await deleteItem(this.container, this.charges, 'leases.release', id, id, current._etag);
  }
}

function checkTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new SyncBridgeError('validation', `ttlMs must be a positive number of milliseconds, got ${ttlMs}.`);
}
