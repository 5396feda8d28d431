import { SyncBridgeError } from '../../core/errors';

/**
 * The settings of SYNCBRIDGE_PLATFORM=azure, read and checked in one place
 * (docs/configuration.md). In Azure every service is reached with the app's managed identity
 * (DefaultAzureCredential; AZURE_CLIENT_ID picks the user-assigned one). Keys and connection
 * strings are accepted for local emulators only, and then only when the endpoint is loopback.
 */
export interface AzureSettings {
  cosmos: { endpoint: string; databaseName: string; key?: string };
  serviceBus: { fullyQualifiedNamespace: string } | { connectionString: string };
  keyVaultUri: string;
  applicationInsightsConnectionString?: string;
  /**
   * APPLICATIONINSIGHTS_AUTHENTICATION_STRING `Authorization=AAD`: our telemetry is sent with a
   * managed identity's Entra token (the component has local auth off); `clientId` names a
   * user-assigned identity, none means the system-assigned one.
   */
  applicationInsightsAuthentication?: { clientId?: string };
  managedIdentityClientId?: string;
}

export function readAzureSettings(env: NodeJS.ProcessEnv): AzureSettings {
  // Each setting is read as `env.NAME` so that tests/infra/drift.test.ts finds it in the Bicep.
  const cosmosEndpoint = required('COSMOS__accountEndpoint', env.COSMOS__accountEndpoint);
  assertUrl('COSMOS__accountEndpoint', cosmosEndpoint, ['https:']);
  const cosmosKey = optional(env.COSMOS__key);
  if (cosmosKey !== undefined && !isLoopback(cosmosEndpoint)) {
    throw new SyncBridgeError('configuration', 'COSMOS__key is for a local emulator only (the endpoint must be localhost/127.0.0.1); in Azure, Cosmos DB is reached with the managed identity.');
  }

  const namespace = optional(env.ServiceBusConnection__fullyQualifiedNamespace);
  const connectionString = optional(env.ServiceBusConnection);
  let serviceBus: AzureSettings['serviceBus'];
  if (namespace !== undefined) {
    if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(namespace)) {
      throw new SyncBridgeError('configuration', `ServiceBusConnection__fullyQualifiedNamespace must be a host name such as <namespace>.servicebus.windows.net, not "${namespace}".`);
    }
    serviceBus = { fullyQualifiedNamespace: namespace };
  } else if (connectionString !== undefined) {
    if (!/UseDevelopmentEmulator=true/i.test(connectionString)) {
      throw new SyncBridgeError('configuration', 'ServiceBusConnection (a connection string) is accepted for the Service Bus emulator only (UseDevelopmentEmulator=true); in Azure set ServiceBusConnection__fullyQualifiedNamespace.');
    }
    serviceBus = { connectionString };
  } else {
    throw new SyncBridgeError('configuration', 'ServiceBusConnection__fullyQualifiedNamespace is not set (SYNCBRIDGE_PLATFORM=azure needs it).');
  }

  const keyVaultUri = required('KEYVAULT_URI', env.KEYVAULT_URI);
  assertUrl('KEYVAULT_URI', keyVaultUri, ['https:']);

  return {
    cosmos: { endpoint: cosmosEndpoint, databaseName: optional(env.COSMOS__databaseName) ?? 'syncbridge', ...(cosmosKey ? { key: cosmosKey } : {}) },
    serviceBus,
    keyVaultUri,
    applicationInsightsConnectionString: optional(env.APPLICATIONINSIGHTS_CONNECTION_STRING),
    ...applicationInsightsAuthentication(optional(env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING)),
    managedIdentityClientId: optional(env.AZURE_CLIENT_ID),
  };
}

/**
 * The documented format `Authorization=AAD` or `ClientId=<id>;Authorization=AAD` (keys in any case),
 * read as the Functions host and the Application Insights agent read it. Any other value is refused:
 * ignoring it would send telemetry without a token, which a component with local auth off drops.
 */
function applicationInsightsAuthentication(raw: string | undefined): Pick<AzureSettings, 'applicationInsightsAuthentication'> {
  if (raw === undefined) return {};
  const fields = new Map<string, string>();
  for (const pair of raw.split(';')) {
    const at = pair.indexOf('=');
    if (at > 0) fields.set(pair.slice(0, at).trim().toLowerCase(), pair.slice(at + 1).trim());
  }
  if (fields.get('authorization')?.toUpperCase() !== 'AAD') {
    throw new SyncBridgeError('configuration', 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING must be "Authorization=AAD" or "ClientId=<client id>;Authorization=AAD".');
  }
  const clientId = fields.get('clientid') || undefined;
  return { applicationInsightsAuthentication: clientId ? { clientId } : {} };
}

function optional(raw: string | undefined): string | undefined {
  const value = raw?.trim();
  return value ? value : undefined;
}

function required(name: string, raw: string | undefined): string {
  const value = optional(raw);
  if (value === undefined) throw new SyncBridgeError('configuration', `${name} is not set (SYNCBRIDGE_PLATFORM=azure needs it).`);
  return value;
}

function assertUrl(name: string, value: string, protocols: string[]): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SyncBridgeError('configuration', `${name} must be a URL, not "${value}".`);
  }
  if (!protocols.includes(url.protocol)) throw new SyncBridgeError('configuration', `${name} must be an ${protocols.join('/')} URL, not "${value}".`);
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}
