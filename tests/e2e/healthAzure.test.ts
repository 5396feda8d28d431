import { ServiceBusClient } from '@azure/service-bus';
import { healthHandler } from '../../functions/health';
import { useServices } from '../../functions/services';
import { createServices } from '../../shared/composition';
import { createAzurePlatform } from '../../shared/platform/azure/azurePlatform';
import { openCosmosDatabase, type CosmosDatabase } from '../../shared/platform/azure/cosmos/cosmosDatabase';
import { ServiceBusQueueSender } from '../../shared/platform/azure/serviceBusQueueSender';
import { JsonLinesTelemetry } from '../../shared/platform/local/jsonLinesTelemetry';
import type { SecretStore } from '../../shared/ports/secretStore';
import { startAmqpTestBroker, type AmqpTestBroker } from '../support/amqpTestBroker';
import { startCosmosServer, type RunningCosmosServer } from '../support/cosmosServer';

/**
 * GET /api/health on the Azure platform: Cosmos DB stores against the loopback Cosmos server, the
 * Service Bus sender against the AMQP test broker. The answer carries states only; the names and
 * the services' own errors go to telemetry.
 */
describe('health on the Azure platform', () => {
  let cosmosServer: RunningCosmosServer;
  const opened: Array<{ close(): Promise<void> | void }> = [];
  beforeAll(async () => {
    cosmosServer = await startCosmosServer();
  });
  afterAll(async () => {
    for (const thing of opened.reverse()) await thing.close();
    await cosmosServer.close();
  });

  async function healthOf(cosmos: CosmosDatabase, broker: AmqpTestBroker) {
    const lines: string[] = [];
    const queue = new ServiceBusQueueSender(new ServiceBusClient(broker.connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 5_000 } }));
    opened.push({ close: () => queue.close() });
    const telemetry = new JsonLinesTelemetry({ sink: { write: (chunk: string) => lines.push(chunk) }, level: 'info' });
    // Health reads no secret: an empty store stands in for Key Vault, which is not under test here.
    const platform = createAzurePlatform({ cosmos, queue, secrets: {} as SecretStore, telemetry });
    useServices(createServices(platform));
    const response = await healthHandler();
    return { status: response.status, body: response.jsonBody as Record<string, unknown>, text: JSON.stringify(response.jsonBody), telemetry: lines.join('') };
  }

  test('both dependencies reachable: 200 with checks { database: "ok", queue: "ok" } and no names', async () => {
    const cosmos = await cosmosServer.freshDatabase('health-db-name');
    const broker = await startAmqpTestBroker();
    opened.push(broker);
    const { status, body, text } = await healthOf(cosmos, broker);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', platform: 'azure', checks: { database: 'ok', queue: 'ok' } });
    expect(text).not.toContain('health-db-name');
    // The check opened a sender link to each queue, which needs the Send claim only.
    expect(broker.cbsRequests.map((r) => r.name)).toEqual(expect.arrayContaining([expect.stringContaining('sync-inbound'), expect.stringContaining('sync-outbound')]));
    expect(broker.messages).toHaveLength(0);
  });

  test('a database that cannot be read: 503, database "failing", no name or Cosmos error text in the answer (it goes to telemetry)', async () => {
    const cosmos = await openCosmosDatabase({ endpoint: cosmosServer.endpoint, key: cosmosServer.key, agent: cosmosServer.agent, databaseName: 'secret-db-name' });
    opened.push({ close: () => cosmos.dispose() });
    const broker = await startAmqpTestBroker();
    opened.push(broker);
    const { status, body, text, telemetry } = await healthOf(cosmos, broker);
    expect(status).toBe(503);
    expect(body).toMatchObject({ status: 'degraded', checks: { database: 'failing', queue: 'ok' } });
    expect(Object.keys(body.checks as object).sort()).toEqual(['database', 'queue']);
    expect(text).not.toContain('secret-db-name');
    expect(text).not.toMatch(/NotFound|Resource|404|activity/i);
    expect(telemetry).toContain('secret-db-name');
  });

  test('a queue that is gone: 503, queue "failing", no queue name or broker text in the answer', async () => {
    const cosmos = await cosmosServer.freshDatabase();
    const broker = await startAmqpTestBroker({ queues: ['sync-inbound'] }); // sync-outbound is missing
    opened.push(broker);
    const { status, body, text, telemetry } = await healthOf(cosmos, broker);
    expect(status).toBe(503);
    expect(body).toMatchObject({ status: 'degraded', checks: { database: 'ok', queue: 'failing' } });
    expect(text).not.toMatch(/sync-outbound|could not be found|MessagingEntityNotFound/);
    expect(telemetry).toContain('sync-outbound');
  });
});
