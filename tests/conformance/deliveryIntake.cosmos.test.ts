import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { IntakeGroupCommit } from '../../shared/core/webhookIntake/groupCommit';
import { createAzurePlatform } from '../../shared/platform/azure/azurePlatform';
import type { CosmosDatabase } from '../../shared/platform/azure/cosmos/cosmosDatabase';
import { openDatabase } from '../../shared/platform/local/database';
import { JsonLinesTelemetry } from '../../shared/platform/local/jsonLinesTelemetry';
import { SqliteQueue } from '../../shared/platform/local/sqliteQueue';
import { SqliteSecretStore } from '../../shared/platform/local/sqliteSecretStore';
import type { QueueSender } from '../../shared/ports/queue';
import { startCosmosServer, type RunningCosmosServer } from '../support/cosmosServer';
import { deliveryIntakeConformance, receiveAll } from './deliveryIntake.conformance';

/**
 * The DeliveryIntake suite on the Azure platform's stores: claims and the delivery log in Cosmos DB
 * (the real @azure/cosmos SDK against @vercel/cosmosdb-server on loopback, one database for the
 * file; every test has its own connection id), and as the queue the local broker, as in
 * tests/support/azureTestPlatform.ts (Service Bus's sender has its own suite). Here claim, log
 * write and send are separate calls, so the windows the group commit guards (a claim held while
 * its send is under way) are open.
 */
let server: RunningCosmosServer;
let cosmos: CosmosDatabase;

beforeAll(async () => {
  server = await startCosmosServer();
  cosmos = await server.freshDatabase();
});
afterAll(async () => {
  await server?.close();
});

deliveryIntakeConformance('IntakeGroupCommit on Cosmos DB', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncbridge-intake-cosmos-'));
  const db = openDatabase(join(dir, 'queue.db'));
  // No duplicate detection: a message the intake sent twice must be seen twice.
  const queue = new SqliteQueue(db, { duplicateDetectionWindowMs: 0 });
  let sendFails = false;
  const flakyQueue: QueueSender = {
    send: (name, messages) => (sendFails ? Promise.reject(new Error('Service Bus is down.')) : queue.send(name, messages)),
  };
  const platform = createAzurePlatform({
    cosmos,
    queue: flakyQueue,
    secrets: new SqliteSecretStore(db, randomBytes(32)),
    telemetry: new JsonLinesTelemetry({ sink: new PassThrough().resume() }),
  });
  return {
    intake: new IntakeGroupCommit(platform, 24 * 3600_000),
    settle: async () => undefined, // accepted only once claimed, logged and sent
    delivery: (id) => platform.deliveries.get(id),
    receiveInbound: async () => receiveAll(queue),
    breakStore: () => {
      sendFails = true;
      return async () => {
        sendFails = false;
      };
    },
    cleanup: async () => {
      queue.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}, { storeFailure: true });
