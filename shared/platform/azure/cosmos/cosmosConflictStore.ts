import type { JSONObject, OperationInput } from '@azure/cosmos';
import { SyncBridgeError } from '../../../core/errors';
import type { IsoTime } from '../../../core/model';
import { claimed, released, resolved } from '../../../core/conflictClaims';
import type { Conflict, ConflictClaim, ConflictListQuery, ConflictResolution, ConflictStats, ConflictStore } from '../../../ports/conflictStore';
import { executeBatch, queryAll, withoutSystemFields } from './cosmosCalls';
import { countConflicts } from './cosmosConflictStats';
import type { CosmosDatabase } from './cosmosDatabase';
import { cosmosStatus, toSyncBridgeError } from './cosmosErrors';
import { nextOrderKey } from './orderKey';
import { decodeOrderKeyCursor, encodeOrderKeyCursor } from './orderKeyCursor';

const MAX_LIMIT = 500;

type ConflictDoc = Conflict & { orderKey: string; _etag?: string };

function fromDoc(doc: ConflictDoc): Conflict {
  const { orderKey: _order, ...conflict } = withoutSystemFields(doc);
  return conflict;
}

/**
 * Conflicts on Cosmos DB, container `conflicts` keyed [tenantId, connectionId]. Tenant-wide reads
 * (the API's list, get and stats) name the tenant as a partition-key prefix, so they reach that
 * tenant's partitions only. Resolving replaces the document under If-Match: two operators resolving
 * the same conflict at once cannot both win; claiming and releasing a conflict
 * (a resolution in progress) are compare-and-sets the same way.
 */
export class CosmosConflictStore implements ConflictStore {
  private readonly container;
  private readonly charges;

  constructor(db: CosmosDatabase) {
    this.container = db.container('conflicts');
    this.charges = db.charges;
  }

  async open(conflict: Conflict): Promise<Conflict> {
    try {
      const response = await this.container.items.create<ConflictDoc>({ ...conflict, orderKey: nextOrderKey() });
      this.charges.add('conflicts.open', response.requestCharge);
    } catch (error) {
      if (cosmosStatus(error) !== 409) throw toSyncBridgeError(error, 'conflicts.open');
    }
    return (await this.get(conflict.tenantId, conflict.id))!;
  }

  async get(tenantId: string, id: string): Promise<Conflict | undefined> {
    const doc = await this.find(tenantId, id);
    return doc && fromDoc(doc);
  }

  async list(query: ConflictListQuery): Promise<{ conflicts: Conflict[]; nextCursor: string | null }> {
    if (!Number.isInteger(query.limit) || query.limit < 1) throw new SyncBridgeError('validation', `limit must be a whole number of at least 1, got ${query.limit}.`);
    const limit = Math.min(query.limit, MAX_LIMIT);
    const where = ['c.tenantId = @tenantId'];
    const parameters = [{ name: '@tenantId', value: query.tenantId }];
    if (query.cursor !== undefined) {
      where.push('c.orderKey > @after');
      parameters.push({ name: '@after', value: decodeOrderKeyCursor('k', query.cursor) });
    }
    if (query.state) {
      where.push('c.state = @state');
      parameters.push({ name: '@state', value: query.state });
    }
    if (query.connectionId) {
      where.push('c.connectionId = @connectionId');
      parameters.push({ name: '@connectionId', value: query.connectionId });
    }
    const docs = await queryAll<ConflictDoc>(
      this.container, this.charges, 'conflicts.list',
      `SELECT TOP ${limit + 1} * FROM c WHERE ${where.join(' AND ')} ORDER BY c.orderKey`,
      parameters,
      query.connectionId ? [query.tenantId, query.connectionId] : [query.tenantId],
    );
    const page = docs.slice(0, limit);
    return { conflicts: page.map(fromDoc), nextCursor: docs.length > limit ? encodeOrderKeyCursor('k', page[page.length - 1].orderKey) : null };
  }

  async resolve(tenantId: string, id: string, resolution: ConflictResolution, at: IsoTime, options: { claimedBy?: string } = {}): Promise<Conflict> {
    return (await this.change(tenantId, id, 'conflicts.resolve', (current) => resolved(current, resolution, at, options.claimedBy)))!;
  }

  async claim(tenantId: string, id: string, claim: ConflictClaim, at: IsoTime): Promise<Conflict> {
    return (await this.change(tenantId, id, 'conflicts.claim', (current) => claimed(current, claim, at)))!;
  }

  async release(tenantId: string, id: string, by: string): Promise<void> {
    try {
      await this.change(tenantId, id, 'conflicts.release', (current) => released(current, by));
    } catch (error) {
      // Gone, or changed by someone else since the read (412): either way no longer ours to release.
      if (!(error instanceof SyncBridgeError && (error.code === 'not_found' || error.code === 'conflict'))) throw error;
    }
  }

  /** Counted by aggregate queries, never by reading the conflicts (cosmosConflictStats.ts). */
  async stats(tenantId: string): Promise<ConflictStats[]> {
    return countConflicts(this.container, this.charges, tenantId);
  }

  /**
   * Reads, decides (`next`: null leaves the document alone) and replaces under If-Match: a
   * compare-and-set, so of two changes decided on the same read only one is stored (the other's
   * 412 is a `conflict`).
   */
  private async change(tenantId: string, id: string, operation: string, next: (current: Conflict) => Conflict | null): Promise<Conflict | null> {
    const current = await this.find(tenantId, id);
    if (!current) throw new SyncBridgeError('not_found', `There is no conflict ${id}.`);
    const changed = next(fromDoc(current));
    if (!changed) return null;
    const doc: ConflictDoc = { ...changed, orderKey: current.orderKey };
    await executeBatch(this.container, this.charges, operation, [tenantId, current.connectionId], [
      { operationType: 'Replace', id, ifMatch: current._etag, resourceBody: doc as unknown as JSONObject } as OperationInput,
    ]);
    return changed;
  }

  private async find(tenantId: string, id: string): Promise<ConflictDoc | undefined> {
    const [doc] = await queryAll<ConflictDoc>(this.container, this.charges, 'conflicts.get', 'SELECT * FROM c WHERE c.id = @id AND c.tenantId = @tenantId', [{ name: '@id', value: id }, { name: '@tenantId', value: tenantId }], [tenantId]);
    return doc;
  }
}
