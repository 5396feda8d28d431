import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { TraceContext } from '../../shared/core/traceContext';
import { toKeyVaultName } from '../../shared/platform/azure/keyVaultSecretNames';
import { startAmqpTestBroker, type AmqpTestBroker } from '../support/amqpTestBroker';
import { startCosmosServer, type RunningCosmosServer } from '../support/cosmosServer';
import { startIngestionCollector, type Envelope, type IngestionCollector } from '../support/ingestionCollector';
import { startKeyVaultTestServer, type KeyVaultTestServer } from '../support/keyVaultTestServer';
import type { AzureSdkCallsInput } from './fixtures/azureSdkCalls';

/**
 * The calls SyncBridge makes through the Azure SDKs arrive in Application Insights as dependencies
 * of the trace that made them. The app runs in a plain node child (tests/e2e/fixtures/azureSdkCalls.ts)
 * in its own order (SDKs imported and Cosmos opened before the telemetry starts), against loopback
 * servers: @vercel/cosmosdb-server, the test vault, the AMQP test broker and an ingestion collector.
 */
describe('Azure SDK calls as Application Insights dependencies', () => {
  let collector: IngestionCollector;
  let cosmosServer: RunningCosmosServer;
  let vault: KeyVaultTestServer;
  let broker: AmqpTestBroker;
  let input: AzureSdkCallsInput;
  let span: TraceContext;
  let dependencies: Array<{ envelope: Envelope; data: Record<string, unknown> }>;

  beforeAll(async () => {
    collector = await startIngestionCollector();
    cosmosServer = await startCosmosServer();
    vault = await startKeyVaultTestServer();
    broker = await startAmqpTestBroker();
    const id = randomUUID().slice(0, 8);
    input = {
      collector: { connectionString: collector.connectionString, ca: collector.ca },
      cosmos: { endpoint: cosmosServer.endpoint, key: cosmosServer.key, databaseName: `deps-${id}` },
      vault: { uri: vault.vaultUri, ca: vault.ca, token: vault.credential.token },
      serviceBusConnectionString: broker.connectionString,
      traceparent: '00-5f0e4a7d2c9b4e1f8a3d6c2b1e0f9a8d-1a2b3c4d5e6f7a8b-01',
      tenantId: `tenant-${id}`,
      secretName: `connection-${id}-credentials`,
      secretValue: `refresh-token-${randomUUID()}`,
    };
    span = JSON.parse(await runChild(input)) as TraceContext;
    dependencies = collector.envelopes
      .filter((e) => e.data?.baseType === 'RemoteDependencyData')
      .map((envelope) => ({ envelope, data: envelope.data!.baseData! }));
  }, 60_000);

  afterAll(async () => {
    await broker?.close();
    await vault?.close();
    await cosmosServer?.close();
    await collector?.close();
  });

  /** The dependencies the SDK call named `name` made directly under the SyncBridge span. */
  const underSpan = (match: (data: Record<string, unknown>) => boolean) =>
    dependencies.filter(({ envelope, data }) => match(data) && envelope.tags?.['ai.operation.id'] === span.traceId && envelope.tags?.['ai.operation.parentId'] === span.spanId);

  it('Cosmos DB writes and reads are HTTP dependencies on the account, with their status codes', () => {
    const cosmosHost = new URL(cosmosServer.endpoint).host;
    const calls = underSpan((d) => String(d.target ?? '').includes(cosmosHost)).map(({ data }) => data);
    const docs = `/dbs/${input.cosmos.databaseName}/colls/tenants/docs`;
    expect(calls).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'Http', name: `POST ${docs}`, resultCode: '201', success: true }),
        expect.objectContaining({ type: 'Http', name: expect.stringMatching(new RegExp(`^GET ${docs}/.+`)), resultCode: '200', success: true }),
        expect.objectContaining({ type: 'Http', name: expect.stringMatching(new RegExp(`^GET ${docs}/.+`)), resultCode: '404', success: false }),
      ]),
    );
  });

  it('a Key Vault secret set and get are the SDK operations with their HTTP calls to the vault under them', () => {
    const operations = underSpan((d) => d.type === 'InProc | Microsoft.KeyVault').map(({ data }) => data);
    // set reads the newest version first (404 here: the secret is new; the first request also meets
    // the vault's 401 bearer challenge) for its version chain (retireVersions).
    expect(operations.map((d) => d.name).sort()).toEqual(['SecretClient.getSecret', 'SecretClient.getSecret', 'SecretClient.setSecret']);
    const httpUnder = (parentId: string) => dependencies.filter(({ envelope }) => envelope.tags?.['ai.operation.parentId'] === parentId).map(({ data }) => data);
    const gets = operations.filter((d) => d.name === 'SecretClient.getSecret').map((d) => httpUnder(String(d.id)));
    expect(gets.map((calls) => calls[calls.length - 1].resultCode).sort()).toEqual(['200', '404']);
    const http = gets.find((calls) => calls[calls.length - 1].resultCode === '200')!;
    const secretPath = `/secrets/${toKeyVaultName(input.secretName)}`;
    // One HTTP dependency per request: the SDK's own span, not a second one from the http instrumentation.
    expect(http).toEqual([expect.objectContaining({ type: 'Http', name: expect.stringContaining(`GET ${secretPath}`), resultCode: '200', success: true, target: new URL(vault.vaultUri).host })]);
    expect(dependencies.filter(({ envelope }) => envelope.tags?.['ai.operation.parentId'] === http[0].id)).toEqual([]);
  });

  it('a Service Bus send is the SDK send to the queue, linked to the message it put on the wire, both with the namespace host and queue as target', () => {
    const [send] = underSpan((d) => d.name === 'ServiceBusSender.send').map(({ data }) => data);
    // The target is the namespace host and the queue, as Microsoft's exporters write a messaging target.
    const target = `${new URL(broker.connectionString.replace(/^Endpoint=/, '').split(';')[0]).hostname}/sync-inbound`;
    expect(send).toMatchObject({ type: 'Dependency', target, success: true, properties: expect.objectContaining({ 'az.namespace': 'Microsoft.ServiceBus', 'messaging.destination.name': 'sync-inbound' }) });
    const messages = underSpan((d) => d.type === 'Queue Message').map(({ data }) => data);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ name: 'message', target });
    // The attributes that carry the target to the exporter (db.system, peer.service) are not properties.
    for (const dependency of [send, ...messages]) {
      expect(dependency.properties).not.toHaveProperty(['db.system']);
      expect(dependency.properties).not.toHaveProperty(['peer.service']);
    }
    const wire = broker.messages.find((m) => m.messageId === `${input.tenantId}-step`)!;
    // The message carries the producer span as Diagnostic-Id (and SyncBridge's own traceparent).
    expect(wire.applicationProperties['Diagnostic-Id']).toBe(`00-${span.traceId}-${messages[0].id}-01`);
  });

  it('no secret reaches telemetry: not the secret value, the vault bearer token or the Cosmos key', () => {
    const everything = JSON.stringify(collector.envelopes);
    expect(everything).not.toContain(input.secretValue);
    expect(everything).not.toContain(input.vault.token);
    expect(everything).not.toContain(cosmosServer.key);
  });
});

function runChild(input: AzureSdkCallsInput): Promise<string> {
  const child = spawn(process.execPath, ['-r', join(__dirname, '../support/registerTypeScript.js'), join(__dirname, 'fixtures', 'azureSdkCalls.ts')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Statsbeat (the SDK's own usage telemetry) would go to Microsoft's endpoint: off.
    env: { ...process.env, SYNCBRIDGE_CHILD: JSON.stringify(input), APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true', APPLICATION_INSIGHTS_NO_STATSBEAT: 'true' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => (code === 0 ? resolve(stdout.trim().split('\n').pop()!) : reject(new Error(`The child exited with ${code}: ${stderr}`))));
  });
}
