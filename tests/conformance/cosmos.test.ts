import { CosmosConflictStore } from '../../shared/platform/azure/cosmos/cosmosConflictStore';
import type { CosmosDatabase } from '../../shared/platform/azure/cosmos/cosmosDatabase';
import { CosmosOutboxStore } from '../../shared/platform/azure/cosmos/cosmosOutboxStore';
import { CosmosRecordStore } from '../../shared/platform/azure/cosmos/cosmosRecordStore';
import { startCosmosServer, type RunningCosmosServer } from '../support/cosmosServer';
import { conflictStoreConformance } from './conflictStore.conformance';
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

recordStoreConformance('CosmosRecordStore', cosmosFixture((d) => new CosmosRecordStore(d)));
outboxStoreConformance('CosmosOutboxStore', cosmosFixture((d) => ({ records: new CosmosRecordStore(d), outbox: new CosmosOutboxStore(d) })));
conflictStoreConformance('CosmosConflictStore', cosmosFixture((d) => new CosmosConflictStore(d)));
