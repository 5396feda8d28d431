import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { allFunctions } from '../../functions/all';
import { MAX_AUTO_LOCK_RENEWAL_MS } from '../../local/queueDispatcher';
import { COSMOS_CONTAINERS } from '../../shared/platform/azure/cosmos/containers';
import { openDatabase } from '../../shared/platform/local/database';
import { SqliteQueue } from '../../shared/platform/local/sqliteQueue';
import { MAX_DELIVERY_COUNT, QUEUES } from '../../shared/ports/queue';
import {
  INFRA_DIR,
  arrayObjects,
  blockAfter,
  isoDurationMs,
  literalValue,
  moduleReferences,
  paramDeclarations,
  quotedStrings,
  readBicep,
  topLevelKeys,
} from './bicepSource';

const ROOT = resolve(__dirname, '../..');

/**
 * The identity-based settings the Azure platform reads (issue 5, docs/configuration.md). Keys and
 * connection strings are for local emulators only and must never be deployed.
 */
const AZURE_PLATFORM_SETTINGS = [
  'SYNCBRIDGE_PLATFORM',
  'COSMOS__accountEndpoint',
  'ServiceBusConnection__fullyQualifiedNamespace',
  'KEYVAULT_URI',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  // Local auth is off on the component: our exporter sends the identity's token (the host reads it too).
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
];

/** Settings read by the Functions host or the Azure SDKs rather than by our code, and why they are set. */
const HOST_SETTINGS: Record<string, string> = {
  AZURE_CLIENT_ID: 'DefaultAzureCredential picks the user-assigned identity by it',
  ServiceBusConnection__credential: 'the trigger connection authenticates with a managed identity',
  ServiceBusConnection__clientId: 'which managed identity the trigger connection uses',
  FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: 'the HTTP trigger accepts at most this much of a request body, streamed or not (the local host reads it too)',
  AzureWebJobsStorage__accountName: "the host's own storage, identity-based",
  AzureWebJobsStorage__credential: "the host's own storage, identity-based",
  AzureWebJobsStorage__clientId: "the host's own storage, identity-based",
};

function appSettingNames(): string[] {
  return topLevelKeys(blockAfter(readBicep('modules/functionApp.bicep'), /\nvar appSettings\s*=\s*/));
}

function queueNamesDeclared(): string[] {
  return quotedStrings(blockAfter(readBicep('modules/serviceBus.bicep'), /\nvar queueNames\s*=\s*/));
}

function queueProperties(): string {
  const queues = blockAfter(readBicep('modules/serviceBus.bicep'), /\nresource queues\s+'Microsoft\.ServiceBus\/namespaces\/queues@[^']+'\s*=\s*/);
  return blockAfter(queues, /\bproperties\s*:\s*/);
}

interface DeclaredContainer {
  name: string;
  partitionKeyPaths: string[];
  defaultTtlSeconds?: number;
  excludedPaths: string[];
}

function containersDeclared(): DeclaredContainer[] {
  return arrayObjects(blockAfter(readBicep('modules/cosmos.bicep'), /\nvar containers\s*=\s*/)).map((item) => {
    const ttl = literalValue(item, 'defaultTtlSeconds');
    return {
      name: literalValue(item, 'name') ?? '',
      partitionKeyPaths: quotedStrings(blockAfter(item, /partitionKeyPaths\s*:\s*/)),
      defaultTtlSeconds: ttl === undefined ? undefined : Number(ttl),
      excludedPaths: quotedStrings(blockAfter(item, /excludedPaths\s*:\s*/)),
    };
  });
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Environment variable names the product reads (`env.X`, `env['X']`, `process.env.X`). */
function settingsReadByCode(): Set<string> {
  const names = new Set<string>();
  for (const file of [...sourceFiles(join(ROOT, 'shared')), ...sourceFiles(join(ROOT, 'functions'))]) {
    for (const match of readFileSync(file, 'utf8').matchAll(/\benv(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\])/g)) {
      names.add(match[1] ?? match[2]);
    }
  }
  return names;
}

/** host.json, whose durations are .NET TimeSpans (`hh:mm:ss`). */
const hostJson = JSON.parse(readFileSync(join(ROOT, 'host.json'), 'utf8')) as { functionTimeout: string; extensions: { serviceBus: { maxAutoLockRenewalDuration: string } } };

function timeSpanMs(value: string): number {
  const match = /^(\d+):(\d{2}):(\d{2})$/.exec(value);
  if (!match) throw new Error(`not an hh:mm:ss TimeSpan: ${value}`);
  return ((Number(match[1]) * 60 + Number(match[2])) * 60 + Number(match[3])) * 1000;
}

const queueFunctions = allFunctions.flatMap((definition) => (definition.kind === 'serviceBusQueue' ? [definition] : []));

describe('Service Bus queues in infra/ match the code', () => {
  const localQueue = new SqliteQueue(openDatabase(':memory:'));

  it('declares exactly the queues of shared/ports/queue.ts', () => {
    expect([...queueNamesDeclared()].sort()).toEqual(Object.values(QUEUES).sort());
  });

  it('declares the queue and connection setting of every queue-triggered function', () => {
    expect(queueFunctions.length).toBeGreaterThan(0);
    for (const { name, options } of queueFunctions) {
      expect({ name, queue: queueNamesDeclared().includes(options.queueName) }).toEqual({ name, queue: true });
      // Identity-based trigger connection with a user-assigned identity: namespace, credential and client id.
      for (const suffix of ['fullyQualifiedNamespace', 'credential', 'clientId']) expect(appSettingNames()).toContain(`${options.connection}__${suffix}`);
    }
  });

  it('turns sessions on because the triggers read sessions', () => {
    expect(queueFunctions.every(({ options }) => options.isSessionsEnabled === true)).toBe(true);
    expect(literalValue(queueProperties(), 'requiresSession')).toBe('true');
  });

  it("dead-letters after the local broker's maxDeliveryCount", () => {
    expect(localQueue.maxDeliveryCount).toBe(10);
    expect(Number(literalValue(queueProperties(), 'maxDeliveryCount'))).toBe(localQueue.maxDeliveryCount);
    // The webhook worker knows a message's last delivery by this constant (shared/ports/queue.ts).
    expect(MAX_DELIVERY_COUNT).toBe(localQueue.maxDeliveryCount);
  });

  it("detects duplicate message ids over the local broker's window", () => {
    expect(literalValue(queueProperties(), 'requiresDuplicateDetection')).toBe('true');
    const window = literalValue(queueProperties(), 'duplicateDetectionHistoryTimeWindow') ?? '';
    expect(isoDurationMs(window)).toBe(localQueue.duplicateDetectionWindowMs);
  });

  it("locks a message as long as the local broker does", () => {
    expect(isoDurationMs(literalValue(queueProperties(), 'lockDuration') ?? '')).toBe(localQueue.lockDurationMs);
  });

  it('renews locks for as long as an invocation may run, so a session is never taken from a running handler', () => {
    // The host does not cancel a handler when lock renewal stops: the session lock would lapse and
    // another instance could run the connection's next step beside it (docs/host-json.md).
    const renewalMs = timeSpanMs(hostJson.extensions.serviceBus.maxAutoLockRenewalDuration);
    const functionTimeoutMs = timeSpanMs(hostJson.functionTimeout);
    expect(renewalMs).toBeGreaterThanOrEqual(functionTimeoutMs);
    // Renewal is what keeps a lock: one lock period is shorter than either.
    const lockMs = isoDurationMs(literalValue(queueProperties(), 'lockDuration') ?? '');
    expect(lockMs).toBeLessThan(functionTimeoutMs);
    // The local host renews as long as the extension does.
    expect(MAX_AUTO_LOCK_RENEWAL_MS).toBe(renewalMs);
  });
});

describe('app settings in infra/ match the code', () => {
  it('declares every identity-based setting of the Azure platform', () => {
    for (const name of AZURE_PLATFORM_SETTINGS) expect(appSettingNames()).toContain(name);
  });

  it('declares every Azure-service setting the code reads, except emulator keys and connection strings', () => {
    const azureShaped = /^(COSMOS__|ServiceBusConnection__|KEYVAULT_|APPLICATIONINSIGHTS_)/;
    const emulatorOnly = /(key|connectionString)$/i;
    const read = [...settingsReadByCode()].filter((name) => azureShaped.test(name) && (name === 'APPLICATIONINSIGHTS_CONNECTION_STRING' || !emulatorOnly.test(name)));
    for (const name of read) expect(appSettingNames()).toContain(name);
  });

  it('declares nothing that neither the code nor the host reads', () => {
    const known = new Set([...AZURE_PLATFORM_SETTINGS, ...Object.keys(HOST_SETTINGS), ...settingsReadByCode()]);
    expect(appSettingNames().filter((name) => !known.has(name))).toEqual([]);
  });

  it('caps the request body the HTTP trigger buffers at 4 MB, not Azure\'s default 100 MB', () => {
    const limit = literalValue(blockAfter(readBicep('modules/functionApp.bicep'), /\nvar appSettings\s*=\s*/), 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT');
    expect(Number(limit)).toBe(4 * 1024 * 1024);
  });

  it('deploys no key, password or connection string other than the ingestion-only Application Insights one', () => {
    const secretShaped = appSettingNames().filter((name) => /(key|password|secret|sas|connection_?string)$/i.test(name) && name !== 'APPLICATIONINSIGHTS_CONNECTION_STRING');
    expect(secretShaped).toEqual([]);
    expect(appSettingNames()).not.toContain('ServiceBusConnection');
  });
});

describe('Cosmos containers in infra/ match docs/deploy.md', () => {
  const documented = [...readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8').matchAll(/^\|\s*`([a-z]+)`\s*\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|/gm)].map((m) => ({
    name: m[1],
    partitionKeyPaths: m[2].split(',').map((path) => path.trim()),
    ttl: m[3],
  }));

  it('declares every container the ports need, each documented with its partition key', () => {
    const declared = containersDeclared();
    expect(declared.map((c) => c.name).sort()).toEqual(COSMOS_CONTAINERS.map((c) => c.name).sort());
    expect(documented.map(({ name, partitionKeyPaths }) => ({ name, partitionKeyPaths })).sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      declared.map(({ name, partitionKeyPaths }) => ({ name, partitionKeyPaths })).sort((a, b) => a.name.localeCompare(b.name)),
    );
  });

  it('partitions per-connection data by /tenantId then /connectionId', () => {
    for (const name of ['records', 'runs', 'deliveries', 'conflicts']) {
      expect({ name, paths: containersDeclared().find((c) => c.name === name)?.partitionKeyPaths }).toEqual({ name, paths: ['/tenantId', '/connectionId'] });
    }
  });

  it('expires idempotency keys and the delivery log, and nothing else, with the documented TTLs', () => {
    const withTtl = containersDeclared().filter((c) => c.defaultTtlSeconds !== undefined && c.defaultTtlSeconds > 0);
    expect(withTtl.map((c) => c.name).sort()).toEqual(['deliveries', 'idempotency']);
    for (const container of withTtl) {
      expect(documented.find((d) => d.name === container.name)?.ttl).toContain(`${container.defaultTtlSeconds} s`);
    }
  });

  it('turns TTL on without a default only for records, where done outbox entries set their own', () => {
    const onWithoutDefault = containersDeclared().filter((c) => c.defaultTtlSeconds === -1);
    expect(onWithoutDefault.map((c) => c.name)).toEqual(['records']);
    expect(documented.find((d) => d.name === 'records')?.ttl).toContain('-1');
  });

  it('declares exactly what the code creates and reads (partition keys, TTLs, excluded paths)', () => {
    const fromCode = COSMOS_CONTAINERS.map((c) => ({ name: c.name, partitionKeyPaths: [...c.partitionKeyPaths], defaultTtlSeconds: c.defaultTtlSeconds, excludedPaths: [...c.excludedPaths] }));
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    expect(containersDeclared().sort(byName)).toEqual(fromCode.sort(byName));
  });

  it('keeps record payloads out of the index', () => {
    expect(containersDeclared().find((c) => c.name === 'records')?.excludedPaths).toEqual(expect.arrayContaining(['/data/*', '/base/*']));
  });
});

describe('templates are complete', () => {
  const main = readBicep('main.bicep');
  const modules = moduleReferences(main);

  it('finds every module main.bicep references', () => {
    expect(modules.length).toBeGreaterThanOrEqual(8);
    for (const module of modules) expect({ module: module.path, exists: existsSync(join(INFRA_DIR, module.path)) }).toEqual({ module: module.path, exists: true });
  });

  it('passes every module its required parameters and only parameters it declares', () => {
    for (const module of modules) {
      const declared = paramDeclarations(readBicep(module.path));
      const missing = declared.filter((p) => !p.hasDefault && !module.params.includes(p.name)).map((p) => p.name);
      const unknown = module.params.filter((name) => !declared.some((p) => p.name === name));
      expect({ module: module.path, missing, unknown }).toEqual({ module: module.path, missing: [], unknown: [] });
    }
  });

  it('gives every main.bicep parameter without a default in main.parameters.json', () => {
    const file = JSON.parse(readFileSync(join(INFRA_DIR, 'main.parameters.json'), 'utf8')) as { parameters: Record<string, unknown> };
    const required = paramDeclarations(main).filter((p) => !p.hasDefault);
    expect(required.length).toBeGreaterThan(0);
    for (const { name } of required) expect(Object.keys(file.parameters)).toContain(name);
    for (const name of Object.keys(file.parameters)) expect(paramDeclarations(main).map((p) => p.name)).toContain(name);
  });

  it('points azure.yaml at infra/main and the function app azd deploys to', () => {
    const azureYaml = readFileSync(join(ROOT, 'azure.yaml'), 'utf8');
    expect(azureYaml).toMatch(/^\s+path: infra$/m);
    expect(azureYaml).toMatch(/^\s+module: main$/m);
    expect(azureYaml).toMatch(/^ {2}api:\n(?: {4}.*\n)*? {4}host: function$/m);
    expect(readBicep('modules/functionApp.bicep')).toContain("'azd-service-name': 'api'");
  });
});
