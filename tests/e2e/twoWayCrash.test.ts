import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { allFunctions, appSetup } from '../../functions/all';
import { useServices } from '../../functions/services';
import { startLocalHost, type RunningLocalHost } from '../../local/host';
import { startSandbox, type RunningSandbox } from '../../sandbox/server';
import { createServices, type Services } from '../../shared/composition';
import { twoWayFor } from '../../shared/core/outbound/registry';
import { createLocalPlatform, type LocalPlatform } from '../../shared/platform/local/localPlatform';
import { ApiClient } from '../support/apiClient';

const ROOT = resolve(__dirname, '../..');
const scope = { tenantId: 't1', connectionId: 'shop', entity: 'customers' };

/**
 * A separate process makes a local change through LocalChangeService on the same data folder and
 * is SIGKILLed. The local store commits once per event-loop turn (turnCommit.ts), and the admin API
 * answers only after that commit, so "stored" means "its turn committed":
 * - `before-send` dies inside the queue send once the record and outbox are committed (as on Azure,
 *   where the Service Bus send is a network call after the Cosmos write): the message never left;
 * - `after-send` dies once the change and its message are committed, before any worker could run;
 * - `same-turn` dies in the turn of the change, before its commit: the caller was never told the
 *   change is stored, and none of it may be (no record without its outbox entry, or the reverse).
 */
const CHILD = `
const { createLocalPlatform } = require(${JSON.stringify(join(ROOT, 'shared/platform/local/localPlatform.ts'))});
const { LocalChangeService } = require(${JSON.stringify(join(ROOT, 'shared/core/outbound/localChanges.ts'))});
const [dataDir, mode, externalId, name] = process.argv.slice(1);
const platform = createLocalPlatform({ dataDir, telemetrySink: new (require('node:stream').PassThrough)() });
const kill = () => process.kill(process.pid, 'SIGKILL');
if (mode === 'before-send') platform.queue.send = () => platform.queue.whenDurable().then(kill).then(() => new Promise(() => {}));
new LocalChangeService(platform)
  .update(${JSON.stringify(scope)}, externalId, { name })
  .then(() => (mode === 'same-turn' ? kill() : platform.queue.whenDurable().then(kill)));
`;

function crashingChange(dataDir: string, mode: 'before-send' | 'after-send' | 'same-turn', externalId: string, name: string): Promise<NodeJS.Signals | null> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['-r', join(ROOT, 'tests/support/registerTypeScript.js'), '-e', CHILD, dataDir, mode, externalId, name], { stdio: ['ignore', 'ignore', 'pipe'] });
    let errors = '';
    child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.once('error', fail);
    child.once('exit', (_code, signal) => (signal === 'SIGKILL' ? done(signal) : fail(new Error(`child did not crash as planned: ${errors}`))));
  });
}

describe('two-way sync survives a crash between the local write and its push', () => {
  let sandbox: RunningSandbox;
  let dataDir: string;
  let stack: { platform: LocalPlatform; services: Services; host: RunningLocalHost; api: ApiClient } | undefined;
  const cus = (n: number) => `cus_${String(n).padStart(7, '0')}`;

  /** The app on the data folder: platform, services, the local host (workers on). */
  async function start(apiKey = 'crash-admin-key-0123456789abcdef'): Promise<NonNullable<typeof stack>> {
    const platform = createLocalPlatform({ dataDir, telemetrySink: new PassThrough() });
    const services = createServices(platform);
    twoWayFor(services, { retry: { initialDelayMs: 20, maxDelayMs: 100 } });
    useServices(services);
    const host = await startLocalHost({ functions: allFunctions, setup: appSetup, queue: platform.queue, port: 0, enableTimers: false, log: () => undefined });
    await services.tenants.ensureTenant('t1', 'Tenant one');
    await services.tenants.issueApiKey('t1', 'admin', 'test', apiKey).catch(() => undefined); // kept from the first start
    return { platform, services, host, api: new ApiClient(host.url, sandbox.url, apiKey) };
  }

  async function stop(): Promise<void> {
    if (!stack) return;
    await stack.host.stop();
    await stack.platform.close();
    stack = undefined;
  }

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, recordsPerEntity: 20 });
    dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-twoway-crash-'));
    stack = await start();
    const created = await stack.api.api('POST', '/api/connections', {
      id: 'shop',
      provider: 'sandbox',
      config: { baseUrl: sandbox.url },
      credentials: { type: 'apiKey', apiKey: sandbox.apiKey },
      entities: [{ name: 'customers', direction: 'both' }],
    });
    expect(created.status).toBe(201);
    expect((await stack.api.waitForRun(await stack.api.startSync('full'))).state).toBe('done');
    await stop();
  });
  afterAll(async () => {
    await stop();
    await sandbox?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function remoteName(n: number): Promise<string> {
    return ((await fetch(`${sandbox.url}/_sandbox/records/customers/${cus(n)}`).then((r) => r.json())) as { name: string }).name;
  }

  test('killed after the write was queued, before any worker ran: the restarted host pushes it', async () => {
    expect(await crashingChange(dataDir, 'after-send', cus(1), 'Queued Before The Crash')).toBe('SIGKILL');
    expect(await remoteName(1)).not.toBe('Queued Before The Crash');
    stack = await start();
    await stack.api.waitFor('the push to reach the sandbox', async () => (await remoteName(1)) === 'Queued Before The Crash');
    const record = await stack.platform.records.get(scope, cus(1));
    await stack.api.waitFor('the record to settle', async () => !(await stack!.platform.records.get(scope, cus(1)))?.pendingPush);
    expect(record?.data.name).toBe('Queued Before The Crash');
    await stop();
  });

  test('killed between the committed write and the queue send: the relay finds the change and pushes it', async () => {
    expect(await crashingChange(dataDir, 'before-send', cus(2), 'Committed Before The Crash')).toBe('SIGKILL');
    stack = await start();
    const pending = await stack.platform.outbox.listPending({ connectionId: 'shop', limit: 10 });
    expect(pending.map((e) => [e.externalId, e.data?.name])).toEqual([[cus(2), 'Committed Before The Crash']]);
    expect((await stack.platform.records.get(scope, cus(2)))?.data.name).toBe('Committed Before The Crash');
    expect(await twoWayFor(stack.services).changes.relayPending()).toBe(1);
    await stack.api.waitFor('the push to reach the sandbox', async () => (await remoteName(2)) === 'Committed Before The Crash');
    const stats = (await fetch(`${sandbox.url}/_sandbox/stats`).then((r) => r.json())) as { writes: { updated: number } };
    expect(stats.writes.updated).toBe(2);
    await stop();
  });

  test('killed inside the turn of the change, before its commit: none of it is stored, nothing half-written', async () => {
    stack = await start();
    const before = await stack.platform.records.get(scope, cus(3));
    expect(before).toBeDefined();
    await stop();
    expect(await crashingChange(dataDir, 'same-turn', cus(3), 'Never Acknowledged')).toBe('SIGKILL');
    stack = await start();
    const after = await stack.platform.records.get(scope, cus(3));
    expect(after?.data.name).toBe(before?.data.name);
    expect(after?.version).toBe(before?.version);
    expect(after?.pendingPush).toBeFalsy();
    expect(await stack.platform.outbox.listPending({ connectionId: 'shop', limit: 10 })).toEqual([]);
    expect(stack.platform.queue.depth('sync-outbound').active).toBe(0);
  });
});
