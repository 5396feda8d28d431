import { SyncBridgeError } from '../../../core/errors';
import type { IsoTime } from '../../../core/model';
import { UNSETTLED_DELIVERY_STATUSES, type Delivery, type DeliveryListQuery, type DeliveryPage, type DeliveryStore, type WebhookHealth, type WebhookHealthEvent } from '../../../ports/deliveryStore';
import { queryAll, readItem, withoutSystemFields } from './cosmosCalls';
import type { CosmosDatabase } from './cosmosDatabase';
import { createIfAbsent, replaceIfMatch } from './cosmosDocs';
import { nextOrderKey } from './orderKey';
import { decodeOrderKeyCursor, encodeOrderKeyCursor } from './orderKeyCursor';
import { safeDocId } from './safeId';

/** `ttl` is set only while the delivery is `received` or `held` (see `retentionOf`). */
type DeliveryDoc = Delivery & { docType: 'delivery'; orderKey: string; ttl?: number; _etag?: string };
/**
 * `ttl: -1`: a connection's health counters are kept as long as the connection, not the 30 days of
 * the log beside them (the container's default would reset them after a month without webhooks).
 */
type HealthDoc = Omit<WebhookHealth, 'connectionId'> & { id: string; docType: 'health'; tenantId: string; connectionId: string; ttl: -1; _etag?: string };

/** Health counters live beside the log, in a partition of their own per connection. */
const HEALTH_TENANT = '~health';
const MAX_HEALTH_ATTEMPTS = 20;

function fromDoc(doc: DeliveryDoc, withBody: boolean): Delivery {
  const { docType: _type, orderKey: _order, ttl: _ttl, ...delivery } = withoutSystemFields(doc);
  return withBody ? delivery : { ...delivery, body: '' };
}

/**
 * The container's TTL counts from a document's last write, and the queue message of a delivery
 * does not expire (the Service Bus queues set no message TTL), so a delivery still `received`
 * after a worker outage longer than the TTL would be gone when its message is handled, and the
 * worker would skip it. A received delivery therefore never expires (`ttl: -1`), nor does a held
 * one (its connection may stay paused for longer; the resume enqueues it from here); once applied,
 * ignored or failed it drops the field and the container's TTL runs again from that write.
 */
function retentionOf(status: Delivery['status']): { ttl?: number } {
  return UNSETTLED_DELIVERY_STATUSES.includes(status) ? { ttl: -1 } : {};
}

/**
 * The webhook delivery log in `deliveries` (key [tenantId, connectionId]); retention is the
 * container's TTL (30 days, infra/modules/cosmos.bicep), not a count, and spares deliveries still
 * `received` or `held` (`retentionOf`). Health counters are one
 * document per connection, never expiring (`ttl: -1`), incremented with read + replace If-Match (retried on a lost race), so
 * concurrent receivers never lose a count. Insert and its "received" count are two writes (one count
 * per connection for an insertMany): a crash between them can undercount by the batch, never
 * double-count.
 */
export class CosmosDeliveryStore implements DeliveryStore {
  private readonly container;
  private readonly charges;

  constructor(db: CosmosDatabase) {
    this.container = db.container('deliveries');
    this.charges = db.charges;
  }

  async insert(delivery: Delivery): Promise<boolean> {
    return (await this.insertMany([delivery]))[0];
  }

  /**
   * The rows in parallel, then one health update per connection counting its new rows (one update
   * per row would race for the same document: a burst of one connection's deliveries ran out of
   * attempts).
   */
  async insertMany(deliveries: readonly Delivery[]): Promise<boolean[]> {
    const inserted = await Promise.all(deliveries.map((d) => this.insertRow(d)));
    const received = new Map<string, { count: number; lastAt: IsoTime }>();
    deliveries.forEach((d, i) => {
      if (!inserted[i]) return;
      const seen = received.get(d.connectionId);
      if (!seen) received.set(d.connectionId, { count: 1, lastAt: d.receivedAt });
      else received.set(d.connectionId, { count: seen.count + 1, lastAt: d.receivedAt > seen.lastAt ? d.receivedAt : seen.lastAt });
    });
    await Promise.all([...received].map(([connectionId, { count, lastAt }]) => this.countHealth(connectionId, 'received', lastAt, undefined, count)));
    return inserted;
  }

  private async insertRow(delivery: Delivery): Promise<boolean> {
    const doc: DeliveryDoc = { ...delivery, docType: 'delivery', orderKey: nextOrderKey(), ...retentionOf(delivery.status) };
    if (await this.find(delivery.id)) return false;
    return createIfAbsent(this.container, this.charges, 'deliveries.insert', doc);
  }

  async get(id: string): Promise<Delivery | undefined> {
    const doc = await this.find(id);
    return doc && fromDoc(doc, true);
  }

  async list(query: DeliveryListQuery): Promise<DeliveryPage> {
    if (!Number.isInteger(query.limit) || query.limit < 1) throw new SyncBridgeError('validation', `limit must be a whole number of at least 1, got ${query.limit}.`);
    const limit = Math.min(query.limit, 1000);
    const before = query.cursor === undefined ? undefined : decodeOrderKeyCursor('d', query.cursor);
    const docs = await queryAll<DeliveryDoc>(
      this.container, this.charges, 'deliveries.list',
      `SELECT TOP ${limit + 1} * FROM c WHERE c.docType = 'delivery'${before === undefined ? '' : ' AND c.orderKey < @before'} ORDER BY c.orderKey DESC`,
      before === undefined ? [] : [{ name: '@before', value: before }],
      [query.tenantId, query.connectionId],
    );
    const page = docs.slice(0, limit);
    return { deliveries: page.map((d) => fromDoc(d, false)), nextCursor: docs.length > limit ? encodeOrderKeyCursor('d', page[page.length - 1].orderKey) : null };
  }

  async listHeld(tenantId: string, connectionId: string, limit: number): Promise<Delivery[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new SyncBridgeError('validation', `limit must be a whole number of at least 1, got ${limit}.`);
    const docs = await queryAll<DeliveryDoc>(
      this.container, this.charges, 'deliveries.listHeld',
      `SELECT TOP ${Math.min(limit, 1000)} * FROM c WHERE c.docType = 'delivery' AND c.status = 'held' ORDER BY c.orderKey ASC`,
      [],
      [tenantId, connectionId],
    );
    return docs.map((d) => fromDoc(d, false));
  }

  async update(id: string, change: Partial<Pick<Delivery, 'status' | 'detail' | 'eventType' | 'replays' | 'settledBy'>>, at: IsoTime): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_HEALTH_ATTEMPTS; attempt += 1) {
      const current = await this.find(id);
      if (!current) return false;
      const { ttl: _ttl, ...stored } = withoutSystemFields(current);
      const merged = { ...stored, ...change, updatedAt: at };
      const next: DeliveryDoc = { ...merged, ...retentionOf(merged.status) };
      if (await replaceIfMatch(this.container, this.charges, 'deliveries.update', next, [current.tenantId, current.connectionId], current._etag!)) return true;
    }
    throw new SyncBridgeError('transient', `Delivery ${id} kept changing while it was being updated.`);
  }

  async recordHealth(connectionId: string, event: WebhookHealthEvent, at: IsoTime, detail?: string, count = 1): Promise<void> {
    await this.countHealth(connectionId, event, at, detail, count);
  }

  /** Counts `count` events of one kind for a connection in one write. */
  private async countHealth(connectionId: string, event: WebhookHealthEvent, at: IsoTime, detail: string | undefined, count: number): Promise<void> {
    const id = safeDocId('health', connectionId);
    const key = [HEALTH_TENANT, connectionId];
    for (let attempt = 0; attempt < MAX_HEALTH_ATTEMPTS; attempt += 1) {
      const current = await readItem<HealthDoc>(this.container, this.charges, 'deliveries.health', id, key);
      const base: HealthDoc = current
        ? { ...withoutSystemFields(current), ttl: -1 } // documents written before the field got it here
        : { id, docType: 'health', tenantId: HEALTH_TENANT, connectionId, ttl: -1, received: 0, rejected: 0, failures: 0, lastReceivedAt: null, lastRejectedAt: null, lastFailureAt: null, lastError: null };
      const next: HealthDoc =
        event === 'received'
          ? { ...base, received: base.received + count, lastReceivedAt: at }
          : event === 'rejected'
            ? { ...base, rejected: base.rejected + count, lastRejectedAt: at, lastError: detail ?? null }
            : { ...base, failures: base.failures + count, lastFailureAt: at, lastError: detail ?? null };
      const written = current
        ? await replaceIfMatch(this.container, this.charges, 'deliveries.health', next, key, current._etag!)
        : await createIfAbsent(this.container, this.charges, 'deliveries.health', next);
      if (written) return;
    }
    throw new SyncBridgeError('transient', `Webhook health of ${connectionId} kept changing while it was being counted.`);
  }

  async health(connectionId: string): Promise<WebhookHealth> {
    const doc = await readItem<HealthDoc>(this.container, this.charges, 'deliveries.health', safeDocId('health', connectionId), [HEALTH_TENANT, connectionId]);
    return {
      connectionId,
      received: doc?.received ?? 0,
      rejected: doc?.rejected ?? 0,
      failures: doc?.failures ?? 0,
      lastReceivedAt: doc?.lastReceivedAt ?? null,
      lastRejectedAt: doc?.lastRejectedAt ?? null,
      lastFailureAt: doc?.lastFailureAt ?? null,
      lastError: doc?.lastError ?? null,
    };
  }

  /** By id across partitions: the applier and replay know a delivery only by its id. */
  private async find(id: string): Promise<DeliveryDoc | undefined> {
    const [doc] = await queryAll<DeliveryDoc>(this.container, this.charges, 'deliveries.get', "SELECT * FROM c WHERE c.id = @id AND c.docType = 'delivery'", [{ name: '@id', value: id }]);
    return doc;
  }
}
