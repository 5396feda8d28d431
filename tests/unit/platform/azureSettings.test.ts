import { readAzureSettings } from '../../../shared/platform/azure/azureSettings';

const base = {
  COSMOS__accountEndpoint: 'https://acct.documents.azure.com:443/',
  ServiceBusConnection__fullyQualifiedNamespace: 'sb-syncbridge.servicebus.windows.net',
  KEYVAULT_URI: 'https://kv-syncbridge.vault.azure.net/',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://x.in.applicationinsights.azure.com/',
  AZURE_CLIENT_ID: '11111111-1111-1111-1111-111111111111',
};

describe('Azure platform settings', () => {
  it('reads the identity-based settings the Bicep deploys', () => {
    expect(readAzureSettings(base)).toEqual({
      cosmos: { endpoint: base.COSMOS__accountEndpoint, databaseName: 'syncbridge' },
      serviceBus: { fullyQualifiedNamespace: base.ServiceBusConnection__fullyQualifiedNamespace },
      keyVaultUri: base.KEYVAULT_URI,
      applicationInsightsConnectionString: base.APPLICATIONINSIGHTS_CONNECTION_STRING,
      managedIdentityClientId: base.AZURE_CLIENT_ID,
    });
  });

  it.each([
    ['COSMOS__accountEndpoint', /COSMOS__accountEndpoint is not set/],
    ['KEYVAULT_URI', /KEYVAULT_URI is not set/],
    ['ServiceBusConnection__fullyQualifiedNamespace', /ServiceBusConnection__fullyQualifiedNamespace is not set/],
  ])('names a missing %s', (name, message) => {
    const env: Record<string, string | undefined> = { ...base };
    delete env[name];
    expect(() => readAzureSettings(env)).toThrow(message);
  });

  it('accepts keys and connection strings for local emulators only', () => {
    expect(() => readAzureSettings({ ...base, COSMOS__key: 'abc' })).toThrow(/emulator only/);
    expect(readAzureSettings({ ...base, COSMOS__accountEndpoint: 'https://127.0.0.1:8081/', COSMOS__key: 'abc' }).cosmos.key).toBe('abc');
    const { ServiceBusConnection__fullyQualifiedNamespace: _ns, ...withoutNamespace } = base;
    expect(() => readAzureSettings({ ...withoutNamespace, ServiceBusConnection: 'Endpoint=sb://prod.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s' })).toThrow(/emulator only/);
    expect(readAzureSettings({ ...withoutNamespace, ServiceBusConnection: 'Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=k;SharedAccessKey=s;UseDevelopmentEmulator=true' }).serviceBus).toEqual({
      connectionString: 'Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=k;SharedAccessKey=s;UseDevelopmentEmulator=true',
    });
  });

  it('reads APPLICATIONINSIGHTS_AUTHENTICATION_STRING as the Functions host does, and refuses what it cannot honour', () => {
    const read = (value: string) => readAzureSettings({ ...base, APPLICATIONINSIGHTS_AUTHENTICATION_STRING: value }).applicationInsightsAuthentication;
    expect(read('ClientId=22222222-2222-2222-2222-222222222222;Authorization=AAD')).toEqual({ clientId: '22222222-2222-2222-2222-222222222222' });
    expect(read('authorization=aad; clientid=22222222-2222-2222-2222-222222222222')).toEqual({ clientId: '22222222-2222-2222-2222-222222222222' });
    expect(read('Authorization=AAD')).toEqual({}); // the system-assigned identity
    expect(readAzureSettings({ ...base, APPLICATIONINSIGHTS_AUTHENTICATION_STRING: '  ' }).applicationInsightsAuthentication).toBeUndefined();
    expect(() => read('ClientId=22222222-2222-2222-2222-222222222222')).toThrow(/APPLICATIONINSIGHTS_AUTHENTICATION_STRING must be/);
  });

  it('refuses malformed values with the setting named', () => {
    expect(() => readAzureSettings({ ...base, KEYVAULT_URI: 'kv-syncbridge' })).toThrow(/KEYVAULT_URI must be a URL/);
    expect(() => readAzureSettings({ ...base, COSMOS__accountEndpoint: 'http://acct.documents.azure.com/' })).toThrow(/https/);
    expect(() => readAzureSettings({ ...base, ServiceBusConnection__fullyQualifiedNamespace: 'sb://x/' })).toThrow(/host name/);
  });
});
