import { SecretClient } from '@azure/keyvault-secrets';
import { AppInsightsTelemetry } from '../../shared/platform/azure/appInsightsTelemetry';
import { createAzurePlatform, type AzurePlatform } from '../../shared/platform/azure/azurePlatform';
import { KeyVaultSecretStore } from '../../shared/platform/azure/keyVaultSecretStore';
import type { SqliteQueue } from '../../shared/platform/local/sqliteQueue';
import { startCosmosServer } from './cosmosServer';
import { startIngestionCollector, type IngestionCollector } from './ingestionCollector';
import { startKeyVaultTestServer } from './keyVaultTestServer';

export interface AzureTestPlatform {
  platform: AzurePlatform<SqliteQueue, AppInsightsTelemetry>;
  collector: IngestionCollector;
  stop(): Promise<void>;
}

/**
 * The Azure implementations on loopback endpoints: Cosmos DB stores against @vercel/cosmosdb-server,
 * the Key Vault secret store against the test vault, Application Insights against a local
 * collector. The queue is the local broker handed in: the local host plays the Functions runtime,
 * which on Azure is what receives from Service Bus (the Service Bus sender has its own tests).
 */
export async function startAzureTestPlatform(queue: SqliteQueue): Promise<AzureTestPlatform> {
  process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED = 'true';
  process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = 'true';
  const cosmosServer = await startCosmosServer();
  const vault = await startKeyVaultTestServer();
  const collector = await startIngestionCollector();
  const cosmos = await cosmosServer.freshDatabase();
  const secrets = new KeyVaultSecretStore(
    new SecretClient(vault.vaultUri, vault.credential, { tlsOptions: { ca: vault.ca }, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 3, retryDelayInMs: 10 } }),
  );
  const telemetry = new AppInsightsTelemetry({ connectionString: collector.connectionString, ingestionCa: collector.ca, level: 'debug' });
  // The end-to-end tests read the records feed straight after a run: no settled horizon here
  // (tests/conformance/cosmosRecordsFeed.test.ts covers it).
  const platform = createAzurePlatform({ cosmos, queue, secrets, telemetry, recordsFeedHorizonMs: 0 });
  return {
    platform,
    collector,
    async stop() {
      await telemetry.flush();
      await telemetry.shutdown();
      cosmos.dispose();
      await cosmosServer.close();
      await vault.close();
      await collector.close();
    },
  };
}
