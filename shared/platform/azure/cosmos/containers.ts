/**
 * The Cosmos DB containers the Azure platform uses: the single source the stores, the local
 * bootstrap (emulators, tests) and infra/modules/cosmos.bicep agree on. tests/infra/drift.test.ts
 * fails when the Bicep declares anything else. Reasons for each key and TTL: docs/cosmos.md.
 */
export interface CosmosContainerSpec {
  name: CosmosContainerName;
  /** More than one path: a hierarchical (MultiHash, version 2) partition key. */
  partitionKeyPaths: readonly string[];
  /**
   * Set where documents may expire; items may set their own `ttl` below it. -1: TTL on, but an
   * item expires only if it sets its own `ttl` (Cosmos DB ignores an item's `ttl` without this).
   */
  defaultTtlSeconds?: number;
  /** Paths kept out of the index: payloads read whole and never filtered on. */
  excludedPaths: readonly string[];
}

export type CosmosContainerName = 'records' | 'runs' | 'connections' | 'tenants' | 'leases' | 'idempotency' | 'deliveries' | 'conflicts';

/**
 * `records` also holds the outbox entries (docType "outbox") and per-run seen sets (docType
 * "seen") of a connection: a record write and its pending push go into one partition of one
 * container, so a transactional batch commits both or neither. TTL is on without a default (-1):
 * only a `done` outbox entry sets its own `ttl` (cosmosOutboxStore.ts); records never expire.
 */
export const COSMOS_CONTAINERS: readonly CosmosContainerSpec[] = [
  { name: 'records', partitionKeyPaths: ['/tenantId', '/connectionId'], defaultTtlSeconds: -1, excludedPaths: ['/data/*', '/base/*', '/fieldClock/*', '/relationships/*', '/payload/*', '/externalIds/*'] },
  { name: 'runs', partitionKeyPaths: ['/tenantId', '/connectionId'], excludedPaths: ['/cursors/*', '/lastError/*'] },
  { name: 'connections', partitionKeyPaths: ['/tenantId'], excludedPaths: ['/mappingOverrides/*', '/config/*'] },
  { name: 'tenants', partitionKeyPaths: ['/id'], excludedPaths: [] },
  { name: 'leases', partitionKeyPaths: ['/id'], excludedPaths: [] },
  { name: 'idempotency', partitionKeyPaths: ['/id'], defaultTtlSeconds: 604800, excludedPaths: [] },
  { name: 'deliveries', partitionKeyPaths: ['/tenantId', '/connectionId'], defaultTtlSeconds: 2592000, excludedPaths: ['/body/*', '/headers/*'] },
  { name: 'conflicts', partitionKeyPaths: ['/tenantId', '/connectionId'], excludedPaths: ['/local/*', '/remote/*', '/base/*'] },
];

export function containerSpec(name: CosmosContainerName): CosmosContainerSpec {
  const spec = COSMOS_CONTAINERS.find((c) => c.name === name);
  if (!spec) throw new Error(`No Cosmos container named ${name}`);
  return spec;
}
