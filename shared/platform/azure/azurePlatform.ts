import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { systemClock, type Clock } from '../../ports/clock';
import type { DependencyCheck, Platform } from '../../ports/platform';
import type { QueueSender } from '../../ports/queue';
import type { SecretStore } from '../../ports/secretStore';
import type { Telemetry } from '../../ports/telemetry';
import { JsonLinesTelemetry } from '../local/jsonLinesTelemetry';
import { AppInsightsTelemetry, type AppInsightsTelemetryOptions } from './appInsightsTelemetry';
import { readAzureSettings, type AzureSettings } from './azureSettings';
import { CosmosConflictStore } from './cosmos/cosmosConflictStore';
import { CosmosConnectionStore } from './cosmos/cosmosConnectionStore';
import { openCosmosDatabase, type CosmosDatabase } from './cosmos/cosmosDatabase';
import { CosmosDeliveryStore } from './cosmos/cosmosDeliveryStore';
import { CosmosIdempotencyStore } from './cosmos/cosmosIdempotencyStore';
import { CosmosLeaseStore } from './cosmos/cosmosLeaseStore';
import { CosmosOutboxStore } from './cosmos/cosmosOutboxStore';
import { CosmosRecordStore } from './cosmos/cosmosRecordStore';
import { CosmosRunStore } from './cosmos/cosmosRunStore';
import { CosmosTenantStore } from './cosmos/cosmosTenantStore';
import { KeyVaultSecretStore } from './keyVaultSecretStore';
import { ServiceBusQueueSender } from './serviceBusQueueSender';

type Closable = { close?(): unknown };
/** A queue sender that can check its queues cheaply (ServiceBusQueueSender); without it the queue is `unchecked`. */
type HealthCheckable = { checkHealth?(abortSignal?: AbortSignal): Promise<void> };

/** How long one dependency check may take before it counts as failing: /api/health must answer promptly. */
const HEALTH_CHECK_TIMEOUT_MS = 5000;
type Shuttable = { shutdown?(): Promise<void> };

/** The Azure services a platform is made of (built from settings, or handed in by tests). */
export interface AzurePlatformParts<Q extends QueueSender = QueueSender, T extends Telemetry = Telemetry> {
  cosmos: CosmosDatabase;
  queue: Q & Closable & HealthCheckable;
  secrets: SecretStore;
  telemetry: T & Shuttable;
  clock?: Clock;
  /** CosmosRecordStoreOptions.feedHorizonMs: how far behind the clock the records feed stops (default 10 s). */
  recordsFeedHorizonMs?: number;
}

export interface AzurePlatform<Q extends QueueSender = QueueSender, T extends Telemetry = Telemetry> extends Platform {
  readonly name: 'azure';
  readonly queue: Q;
  readonly telemetry: T;
  readonly cosmos: CosmosDatabase;
}

/** Every port on its Azure service: Cosmos DB stores, the Service Bus sender, Key Vault, Application Insights. */
export function createAzurePlatform<Q extends QueueSender, T extends Telemetry>(parts: AzurePlatformParts<Q, T>): AzurePlatform<Q, T> {
  const clock = parts.clock ?? systemClock;
  const { cosmos } = parts;
  return {
    name: 'azure',
    cosmos,
    records: new CosmosRecordStore(cosmos, { clock, feedHorizonMs: parts.recordsFeedHorizonMs }),
    outbox: new CosmosOutboxStore(cosmos, { clock }),
    conflicts: new CosmosConflictStore(cosmos),
    runs: new CosmosRunStore(cosmos),
    connections: new CosmosConnectionStore(cosmos),
    tenants: new CosmosTenantStore(cosmos),
    queue: parts.queue,
    secrets: parts.secrets,
    leases: new CosmosLeaseStore(cosmos, { clock }),
    idempotency: new CosmosIdempotencyStore(cosmos, { clock }),
    deliveries: new CosmosDeliveryStore(cosmos),
    telemetry: parts.telemetry,
    clock,
    async checkHealth() {
      // The detail (the database's name, the service's own error) is for telemetry only:
      // functions/health.ts answers the states alone.
      const [database, queue] = await Promise.all([
        checkWithin(HEALTH_CHECK_TIMEOUT_MS, async (abortSignal) => {
          await cosmos.database.read({ abortSignal });
        }),
        parts.queue.checkHealth ? checkWithin(HEALTH_CHECK_TIMEOUT_MS, (abortSignal) => parts.queue.checkHealth!(abortSignal)) : Promise.resolve<DependencyCheck>({ state: 'unchecked' }),
      ]);
      if (database.state === 'failing') database.detail = `Cosmos DB database ${cosmos.database.id}: ${database.detail}`;
      return { database, queue };
    },
    async close() {
      await parts.telemetry.flush();
      await parts.queue.close?.();
      await parts.telemetry.shutdown?.();
      cosmos.dispose();
    },
  };
}

/**
 * SYNCBRIDGE_PLATFORM=azure: the settings of docs/configuration.md, every service reached with the
 * app's managed identity (DefaultAzureCredential, AZURE_CLIENT_ID choosing the user-assigned one).
 * Without APPLICATIONINSIGHTS_CONNECTION_STRING, telemetry goes to stdout as JSON lines.
 */
export async function createAzurePlatformFromEnv(env: NodeJS.ProcessEnv): Promise<AzurePlatform> {
  const settings = readAzureSettings(env);
  const credential = new DefaultAzureCredential(settings.managedIdentityClientId ? { managedIdentityClientId: settings.managedIdentityClientId } : {});
  const cosmos = await openCosmosDatabase({
    endpoint: settings.cosmos.endpoint,
    databaseName: settings.cosmos.databaseName,
    ...(settings.cosmos.key ? { key: settings.cosmos.key, createIfMissing: true } : { credential }),
  });
  const queue = ServiceBusQueueSender.fromSettings('connectionString' in settings.serviceBus ? settings.serviceBus : { ...settings.serviceBus, credential });
  const secrets = KeyVaultSecretStore.fromSettings(settings.keyVaultUri, credential);
  const telemetry = telemetryFromSettings(settings);
  return createAzurePlatform({ cosmos, queue, secrets, telemetry });
}

/**
 * Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set, else JSON lines on stdout.
 * With APPLICATIONINSIGHTS_AUTHENTICATION_STRING `Authorization=AAD` the exporter sends the managed
 * identity's token: a ManagedIdentityCredential for the ClientId the setting names (the
 * system-assigned identity without one), as the Functions host and the Application Insights agent
 * read that setting, rather than the app's DefaultAzureCredential, so that the identity telemetry is
 * sent with is the one the setting (and the Monitoring Metrics Publisher role) names.
 * `extra` is for tests (a local collector's CA).
 */
export function telemetryFromSettings(settings: AzureSettings, extra: Pick<AppInsightsTelemetryOptions, 'ingestionCa'> = {}): Telemetry & Shuttable {
  if (!settings.applicationInsightsConnectionString) return new JsonLinesTelemetry({ sink: process.stdout, level: 'info' });
  const authentication = settings.applicationInsightsAuthentication;
  return new AppInsightsTelemetry({
    connectionString: settings.applicationInsightsConnectionString,
    ...extra,
    ...(authentication ? { credential: new ManagedIdentityCredential(authentication.clientId ? { clientId: authentication.clientId } : {}) } : {}),
  });
}

/** Runs one dependency check with a deadline; a throw or the deadline makes it `failing`. */
async function checkWithin(timeoutMs: number, check: (abortSignal: AbortSignal) => Promise<void>): Promise<DependencyCheck> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    await Promise.race([check(abort.signal), deadline]);
    return { state: 'ok' };
  } catch (error) {
    return { state: 'failing', detail: error instanceof Error ? error.message.split('\n')[0] : String(error) };
  } finally {
    clearTimeout(timer);
  }
}
