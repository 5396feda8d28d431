import type { Connection } from '../core/model';

/**
 * Connections: one provider account of one tenant.
 *
 * Semantics (tests/conformance/connectionStore.conformance.ts):
 * - Connection ids are unique across tenants (they are Service Bus session ids); `create` of an
 *   existing id fails with SyncBridgeError('conflict').
 * - `create` stores version 1; `update` is optimistic like RunStore.update: stale version →
 *   SyncBridgeError('conflict'), unknown id → SyncBridgeError('not_found').
 * - `listByTenant` returns one page of that tenant's connections only, ordered by id, keyset-paged:
 *   the page after a cursor starts after the last id of the page that handed it out, so a cursor
 *   stays valid while connections are created (one whose id sorts after the cursor shows up in a
 *   later page, one before it does not). `limit` defaults to 100 and is capped at 1,000; below 1 is
 *   SyncBridgeError('validation'), and so is a cursor the store did not hand out. `nextCursor` is
 *   null on the last page.
 * - `listAll` pages through every connection (for the scheduler), ordered by id, after `afterId`.
 */
export interface ConnectionStore {
  create(connection: Connection): Promise<Connection>;
  get(id: string): Promise<Connection | undefined>;
  update(connection: Connection): Promise<Connection>;
  listByTenant(query: ConnectionListQuery): Promise<ConnectionPage>;
  listAll(options?: { afterId?: string; limit?: number }): Promise<Connection[]>;
}

export interface ConnectionListQuery {
  tenantId: string;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
  /** Connections per page. Default 100, at most 1,000 (a larger limit is capped). */
  limit?: number;
}

export interface ConnectionPage {
  connections: Connection[];
  /** The cursor of the next page, or null when this page is the last. */
  nextCursor: string | null;
}

/** Connections one list page returns when the caller names no limit. */
export const DEFAULT_CONNECTION_PAGE_SIZE = 100;
/** The most connections one list page returns, whatever the caller asks. */
export const MAX_CONNECTION_PAGE_SIZE = 1000;
