import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startSandbox, type RunningSandbox } from '../../sandbox/server';
import { ApiClient } from '../support/apiClient';

const START = resolve(__dirname, '../../dist/local/start.js');
const ADMIN_KEY = 'webhook-demo-admin-key-0123456789';

/** `npm start` as its own process: the banner names the host URL and the webhook URL. */
function startHost(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [START], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`host did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /SyncBridge local host: (http:\/\/127\.0\.0\.1:\d+)\/api/.exec(output);
      if (match && output.includes('Webhooks:')) {
        clearTimeout(timer);
        resolvePromise({ child, url: match[1], output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`host exited with ${code}:\n${output}`));
    });
  });
}

describe('npm start registers the demo webhook with the sandbox', () => {
  let sandbox: RunningSandbox;
  let dataDir: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    if (!existsSync(START)) throw new Error(`${START} is missing: run "npm run build" first (npm test does).`);
    sandbox = await startSandbox({ port: 0, recordsPerEntity: 50 });
    dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-webhook-demo-'));
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((done) => child!.once('exit', done));
      child.kill('SIGKILL');
      await exited;
    }
    await sandbox?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('a change made in the sandbox shows up in the records API within two seconds, with no new sync run', async () => {
    const env = { SYNCBRIDGE_PORT: '0', SYNCBRIDGE_DATA_DIR: dataDir, SANDBOX_URL: sandbox.url, SANDBOX_API_KEY: sandbox.apiKey, SYNCBRIDGE_ADMIN_KEY: ADMIN_KEY };
    const host = await startHost(env);
    child = host.child;
    const api = new ApiClient(host.url, sandbox.url, ADMIN_KEY);
    expect(host.output()).toContain(`/api/webhooks/sandbox/sandbox-crm`);
    const { targets } = await api.sandbox('GET', 'webhooks');
    expect(targets.map((t: any) => t.url)).toEqual([`${host.url}/api/webhooks/sandbox/sandbox-crm`]);
    await api.waitFor('the first full sync', async () => {
      const runs = (await api.api('GET', '/api/connections/sandbox-crm/syncs')).body.runs;
      return runs.length === 1 && runs[0].finishedAt;
    }, 30_000);

    const { updated } = await api.sandbox('POST', 'mutate', { entity: 'customers', update: 1 });
    const expected = await api.sandbox('GET', `records/customers/${updated[0]}`);
    const started = Date.now();
    await api.waitFor('the change through the webhook', async () => {
      const page = await api.api('GET', '/api/connections/sandbox-crm/records?entity=customers&limit=1000');
      const record = page.body.records.find((r: any) => r.externalId === updated[0]);
      return record?.metadata.sourceUpdatedAt === expected.updated_at;
    }, 5_000);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await api.api('GET', '/api/connections/sandbox-crm/syncs')).body.runs).toHaveLength(1);
    const webhook = await api.api('GET', '/api/connections/sandbox-crm/webhook');
    expect(webhook.body).toMatchObject({ configured: true, secretCount: 1 });
    expect(webhook.body.health.received).toBeGreaterThan(0);
  });
});
