import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox, type RunningSandbox } from '../../sandbox/server';
import { ApiClient } from '../support/apiClient';
import { assertBuilt, killHard, startNpmStart } from '../support/npmStart';

const ADMIN_KEY = 'webhook-demo-admin-key-0123456789';

describe('npm start registers the demo webhook with the sandbox', () => {
  let sandbox: RunningSandbox;
  let dataDir: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    assertBuilt();
    sandbox = await startSandbox({ port: 0, recordsPerEntity: 50 });
    dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-webhook-demo-'));
  });
  afterAll(async () => {
    if (child) await killHard(child);
    await sandbox?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('a change made in the sandbox shows up in the records API within two seconds, with no new sync run', async () => {
    const env = { SYNCBRIDGE_PORT: '0', SYNCBRIDGE_DATA_DIR: dataDir, SANDBOX_URL: sandbox.url, SANDBOX_API_KEY: sandbox.apiKey, SYNCBRIDGE_ADMIN_KEY: ADMIN_KEY };
    const host = await startNpmStart(env);
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
