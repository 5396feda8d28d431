import type { Connection } from '../model';
import type { ConnectionStore } from '../../ports/connectionStore';

/** What receipt needs of a connection: fields that never change for a connection id. */
export type ReceiptConnection = Pick<Connection, 'id' | 'tenantId' | 'provider'>;

export interface ReceiptConnectionsOptions {
  /** How long a connection read is reused. Default 1000 ms; 0 reads every time. */
  ttlMs?: number;
  /** Connections kept at most; the oldest read is dropped first. Default 10,000. */
  maxEntries?: number;
  /** Milliseconds now. Default Date.now. */
  now?: () => number;
}

/**
 * The webhook receiver's connection lookups, reused for a short while.
 *
 * Every delivery needs its connection's tenant and provider, and reading the connection (a store
 * read and a JSON parse of the whole document, per delivery) was ~6 % of the receiving thread's
 * profile on the local host; without it that thread took ~13 % less CPU per webhook under the
 * ingest bench (docs/webhook-intake.md). Receipt uses only the id, the tenant and the
 * provider, which never change for a connection (no API moves a connection to another tenant or
 * provider, and the store refuses a tenant change), so what is reused cannot be wrong about them.
 * Only what is found is kept: a connection created a moment after a 404 receives at once. The TTL
 * keeps the window small should connections ever be deleted, as the webhook settings' cache
 * (secrets.ts) does for a rotation made by another instance.
 */
export class ReceiptConnections {
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, { connection: ReceiptConnection; until: number }>();

  constructor(private readonly store: Pick<ConnectionStore, 'get'>, options: ReceiptConnectionsOptions = {}) {
    this.ttlMs = options.ttlMs ?? 1000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
    if (!(this.ttlMs >= 0 && Number.isFinite(this.ttlMs))) throw new RangeError(`ttlMs must be a finite number of 0 or more, got ${options.ttlMs}.`);
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) throw new RangeError(`maxEntries must be a whole number of at least 1, got ${options.maxEntries}.`);
  }

  async get(id: string): Promise<ReceiptConnection | undefined> {
    const now = this.now();
    const cached = this.cache.get(id);
    if (cached !== undefined && cached.until > now) return cached.connection;
    const stored = await this.store.get(id);
    if (stored === undefined) {
      this.cache.delete(id);
      return undefined;
    }
    const connection: ReceiptConnection = { id: stored.id, tenantId: stored.tenantId, provider: stored.provider };
    if (this.ttlMs > 0) {
      // Re-inserted, so that the Map's order is the order of reads and the first key the oldest.
      this.cache.delete(id);
      if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(id, { connection, until: now + this.ttlMs });
    }
    return connection;
  }
}
