import { SyncBridgeError } from '../../../core/errors';
import type { Connection } from '../../../core/model';
import { DEFAULT_CONNECTION_PAGE_SIZE, MAX_CONNECTION_PAGE_SIZE, type ConnectionListQuery, type ConnectionPage, type ConnectionStore } from '../../../ports/connectionStore';
import { queryAll, readItem, withoutSystemFields } from './cosmosCalls';
import type { CosmosDatabase } from './cosmosDatabase';
import { createIfAbsent, deleteItem, replaceIfMatch } from './cosmosDocs';
import { decodeOrderKeyCursor, encodeOrderKeyCursor } from './orderKeyCursor';
import { safeDocId } from './safeId';

type ConnectionDoc = Connection & { _etag?: string };

/**
 * Connections in `connections` (key /tenantId: a tenant's connections are one partition, listed in
 * one query). Connection ids are unique across tenants (they are Service Bus session ids): a
 * `connection:<id>` document in `tenants` (key /id) is created first and claims the id.
 */
export class CosmosConnectionStore implements ConnectionStore {
  private readonly container;
  private readonly names;
  private readonly charges;

  constructor(db: CosmosDatabase) {
    this.container = db.container('connections');
    this.names = db.container('tenants');
    this.charges = db.charges;
  }

  async create(connection: Connection): Promise<Connection> {
    const stored: Connection = { ...connection, version: 1 };
    const claim = { id: safeDocId('connection', connection.id), docType: 'connectionId', tenantId: connection.tenantId };
    if (!(await createIfAbsent(this.names, this.charges, 'connections.create', claim))) throw new SyncBridgeError('conflict', `Connection ${connection.id} already exists.`);
    if (!(await createIfAbsent(this.container, this.charges, 'connections.create', stored))) {
      await deleteItem(this.names, this.charges, 'connections.create', claim.id, claim.id);
      throw new SyncBridgeError('conflict', `Connection ${connection.id} already exists.`);
    }
    return stored;
  }

  async get(id: string): Promise<Connection | undefined> {
    const claimId = safeDocId('connection', id);
    const claim = await readItem<{ tenantId: string }>(this.names, this.charges, 'connections.get', claimId, claimId);
    if (!claim) return undefined;
    const doc = await readItem<ConnectionDoc>(this.container, this.charges, 'connections.get', id, claim.tenantId);
    return doc && withoutSystemFields(doc);
  }

  async update(connection: Connection): Promise<Connection> {
    const current = await readItem<ConnectionDoc>(this.container, this.charges, 'connections.read', connection.id, connection.tenantId);
    if (!current) throw new SyncBridgeError('not_found', `Connection ${connection.id} does not exist.`);
    const stale = () => new SyncBridgeError('conflict', `Connection ${connection.id} changed since version ${connection.version} was read; read it again and retry.`);
    if (current.version !== connection.version) throw stale();
    const stored: Connection = { ...connection, version: connection.version + 1 };
    if (!(await replaceIfMatch(this.container, this.charges, 'connections.update', stored, connection.tenantId, current._etag!))) throw stale();
    return stored;
  }

  async listByTenant(query: ConnectionListQuery): Promise<ConnectionPage> {
    const limit = pageLimit(query.limit);
    const after = query.cursor === undefined ? '' : decodeOrderKeyCursor('n', query.cursor);
    // One partition (the tenant's); one document more than the page tells whether another follows.
    const docs = await queryAll<ConnectionDoc>(
      this.container, this.charges, 'connections.listByTenant',
      `SELECT TOP ${limit + 1} * FROM c WHERE c.tenantId = @tenantId AND c.id > @after ORDER BY c.id`,
      [{ name: '@tenantId', value: query.tenantId }, { name: '@after', value: after }],
      query.tenantId,
    );
    const page = docs.slice(0, limit);
    return { connections: page.map(withoutSystemFields), nextCursor: docs.length > limit ? encodeOrderKeyCursor('n', page[page.length - 1].id) : null };
  }

  async listAll(options: { afterId?: string; limit?: number } = {}): Promise<Connection[]> {
    const limit = pageLimit(options.limit);
    const docs = await queryAll<ConnectionDoc>(
      this.container, this.charges, 'connections.listAll',
      `SELECT TOP ${limit} * FROM c WHERE c.id > @after ORDER BY c.id`,
      [{ name: '@after', value: options.afterId ?? '' }],
    );
    return docs.map(withoutSystemFields);
  }
}

function pageLimit(requested: number | undefined): number {
  const limit = requested ?? DEFAULT_CONNECTION_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1) throw new SyncBridgeError('validation', `limit must be a whole number of at least 1, got ${limit}.`);
  return Math.min(limit, MAX_CONNECTION_PAGE_SIZE);
}
