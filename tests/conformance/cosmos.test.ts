import { ManualClock } from '../../shared/core/manualClock';
import { CosmosConflictStore } from '../../shared/platform/azure/cosmos/cosmosConflictStore';
import { CosmosConnectionStore } from '../../shared/platform/azure/cosmos/cosmosConnectionStore';
import { CosmosDeliveryStore } from '../../shared/platform/azure/cosmos/cosmosDeliveryStore';
import { CosmosIdempotencyStore } from '../../shared/platform/azure/cosmos/cosmosIdempotencyStore';
import { CosmosLeaseStore } from '../../shared/platform/azure/cosmos/cosmosLeaseStore';
import { CosmosRunStore } from '../../shared/platform/azure/cosmos/cosmosRunStore';
import { CosmosTenantStore } from '../../shared/platform/azure/cosmos/cosmosTenantStore';
import type { CosmosDatabase } from '../../shared/platform/azure/cosmos/cosmosDatabase';
import { CosmosOutboxStore } from '../../shared/platform/azure/cosmos/cosmosOutboxStore';
import { CosmosRecordStore } from '../../shared/platform/azure/cosmos/cosmosRecordStore';
import { startCosmosServer, type RunningCosmosServer } from '../support/cosmosServer';
import { conflictStoreConformance } from './conflictStore.conformance';
import { connectionStoreConformance } from './connectionStore.conformance';
import { deliveryStoreConformance } from './deliveryStore.conformance';
import { idempotencyStoreConformance } from './idempotencyStore.conformance';
import { leaseStoreConformance } from './leaseStore.conformance';
import { runStoreConformance } from './runStore.conformance';
import { tenantStoreConformance } from './tenantStore.conformance';
import type { StoreFixture } from './fixtures';
import { outboxStoreConformance } from './outboxStore.conformance';
import { recordStoreConformance } from './recordStore.conformance';

/**
 * The port suites against the Cosmos DB implementations: the real @azure/cosmos SDK over HTTPS to
 * @vercel/cosmosdb-server on loopback. One server and database per file; every test works in
 * scopes of its own (uniqueId), as it would in a shared Cosmos account.
 */
let server: RunningCosmosServer;
let db: CosmosDatabase;

beforeAll(async () => {
  server = await startCosmosServer();
  db = await server.freshDatabase();
});
afterAll(async () => {
  await server?.close();
});

function cosmosFixture<S>(build: (db: CosmosDatabase) => S): () => Promise<StoreFixture<S>> {
  return async () => ({ store: build(db), cleanup: async () => undefined });
}

/** A store whose time the suite moves (leases, idempotency keys expire by the injected clock). */
function clockedFixture<S>(build: (db: CosmosDatabase, clock: ManualClock) => S): () => Promise<StoreFixture<S>> {
  return async () => {
    const clock = new ManualClock();
    return { store: build(db, clock), clock, cleanup: async () => undefined };
  };
}

// The record store stamps by its clock and lists behind it (its feed's settled horizon): the suite moves it.
recordStoreConformance('CosmosRecordStore', clockedFixture((d, clock) => new CosmosRecordStore(d, { clock })));
outboxStoreConformance('CosmosOutboxStore', clockedFixture((d, clock) => ({ records: new CosmosRecordStore(d, { clock }), outbox: new CosmosOutboxStore(d, { clock }) })));
conflictStoreConformance('CosmosConflictStore', cosmosFixture((d) => new CosmosConflictStore(d)));

runStoreConformance('CosmosRunStore', cosmosFixture((d) => new CosmosRunStore(d)));
connectionStoreConformance('CosmosConnectionStore', cosmosFixture((d) => new CosmosConnectionStore(d)));
tenantStoreConformance('CosmosTenantStore', cosmosFixture((d) => new CosmosTenantStore(d)));
leaseStoreConformance('CosmosLeaseStore', clockedFixture((d, clock) => new CosmosLeaseStore(d, { clock })));
idempotencyStoreConformance('CosmosIdempotencyStore', clockedFixture((d, clock) => new CosmosIdempotencyStore(d, { clock })));
// Retention is the container's TTL (30 days), not a count: the count-based retention case does not apply,
// and the loopback server never expires items; cosmosDeliveryRetention.test.ts checks the per-item TTL.
deliveryStoreConformance('CosmosDeliveryStore', cosmosFixture((d) => new CosmosDeliveryStore(d)));
