import type { Connection } from '../core/model';

/**
 * Connections: one provider account of one tenant.
 *
 * Semantics (tests/conformance/connectionStore.conformance.ts):
 * - Connection ids are unique across tenants (they are Service Bus session ids); `create` of an
 *   existing id fails with SyncBridgeError('conflict').
 * - `create` stores version 1; `update` is optimistic like RunStore.update: stale version →
 *   SyncBridgeError('conflict'), unknown id → SyncBridgeError('not_found').
 * - `listByTenant` returns only that tenant's connections, ordered by id.
 * - `listAll` pages through every connection (for the scheduler), ordered by id, after `afterId`.
 */
export interface ConnectionStore {
  create(connection: Connection): Promise<Connection>;
  get(id: string): Promise<Connection | undefined>;
  update(connection: Connection): Promise<Connection>;
  listByTenant(tenantId: string): Promise<Connection[]>;
  listAll(options?: { afterId?: string; limit?: number }): Promise<Connection[]>;
}
