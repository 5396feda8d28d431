// Statsbeat (the SDK's own usage telemetry) would go to Microsoft's endpoint: off in tests.
process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED = 'true';
process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = 'true';

import { telemetryFromSettings } from '../../shared/platform/azure/azurePlatform';
import { readAzureSettings } from '../../shared/platform/azure/azureSettings';
import { startIngestionCollector, type IngestionCollector } from '../support/ingestionCollector';
import { startManagedIdentityEndpoint, type ManagedIdentityEndpoint } from '../support/managedIdentityEndpoint';

/**
 * The deployed component has local auth off (infra/modules/monitoring.bicep): ingestion accepts
 * only telemetry sent with an Entra token. From the app settings functionApp.bicep deploys, the
 * Azure platform's telemetry must carry the managed identity's token; the identity comes from a
 * local endpoint speaking App Service's managed identity protocol, ingestion is a local collector.
 */
const clientId = '22222222-2222-2222-2222-222222222222';
let collector: IngestionCollector;
let identity: ManagedIdentityEndpoint;
const saved = { IDENTITY_ENDPOINT: process.env.IDENTITY_ENDPOINT, IDENTITY_HEADER: process.env.IDENTITY_HEADER };

beforeAll(async () => {
  collector = await startIngestionCollector();
  identity = await startManagedIdentityEndpoint();
  Object.assign(process.env, identity.env);
});
afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await identity?.close();
  await collector?.close();
});

function settings(extra: Record<string, string>) {
  return readAzureSettings({
    COSMOS__accountEndpoint: 'https://acct.documents.azure.com:443/',
    ServiceBusConnection__fullyQualifiedNamespace: 'sb-syncbridge.servicebus.windows.net',
    KEYVAULT_URI: 'https://kv-syncbridge.vault.azure.net/',
    APPLICATIONINSIGHTS_CONNECTION_STRING: collector.connectionString,
    AZURE_CLIENT_ID: clientId,
    ...extra,
  });
}

/** Sends one event through the platform's telemetry; returns the Authorization headers ingestion saw. */
async function authorizationsOfOneEvent(extra: Record<string, string>, eventName: string): Promise<Array<string | undefined>> {
  const from = collector.authorizations.length;
  const telemetry = telemetryFromSettings(settings(extra), { ingestionCa: collector.ca });
  try {
    telemetry.event(eventName);
    await telemetry.flush();
  } finally {
    await telemetry.shutdown?.();
  }
  expect(collector.envelopes.some((e) => e.data?.baseData?.name === eventName)).toBe(true);
  return collector.authorizations.slice(from);
}

describe('Application Insights ingestion authentication', () => {
  it("sends the managed identity's Entra token when APPLICATIONINSIGHTS_AUTHENTICATION_STRING says Authorization=AAD", async () => {
    const authorizations = await authorizationsOfOneEvent({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `ClientId=${clientId};Authorization=AAD` }, 'AadProbe');
    expect(authorizations.length).toBeGreaterThan(0);
    expect(new Set(authorizations)).toEqual(new Set([`Bearer ${identity.token}`]));
    // The token is the named user-assigned identity's, for Azure Monitor.
    expect(identity.requests).toContainEqual({ resource: expect.stringMatching(/^https:\/\/monitor\.azure\.com\/?$/), clientId });
  });

  it('sends no Authorization header without the setting (local development, a component with local auth on)', async () => {
    const asked = identity.requests.length;
    const authorizations = await authorizationsOfOneEvent({}, 'KeyOnlyProbe');
    expect(authorizations.length).toBeGreaterThan(0);
    expect(authorizations.every((header) => header === undefined)).toBe(true);
    expect(identity.requests.length).toBe(asked);
  });
});
