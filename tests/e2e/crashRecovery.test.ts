import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox, type RunningSandbox } from '../../sandbox/server';
import { ApiClient } from '../support/apiClient';
import { assertBuilt, killHard, startNpmStart } from '../support/npmStart';

const ADMIN_KEY = 'crash-test-admin-key-0123456789';

describe('crash recovery: a host killed with SIGKILL mid-run resumes and finishes exactly', () => {
  let sandbox: RunningSandbox;
  let dataDir: string;
  /** Every host this file started; each test stops its own, afterAll stops whatever is left. */
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    assertBuilt();
    sandbox = await startSandbox({ port: 0, recordsPerEntity: 600 });
    dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-crash-'));
  });
  /** The contract `npm start` reads: a free port, our data dir, the test's sandbox and admin key. */
  const npmStartEnv = () => ({
    SYNCBRIDGE_PORT: '0',
    SYNCBRIDGE_DATA_DIR: dataDir,
    SANDBOX_URL: sandbox.url,
    SANDBOX_API_KEY: sandbox.apiKey,
    SYNCBRIDGE_ADMIN_KEY: ADMIN_KEY,
  });

  afterAll(async () => {
    await Promise.all(children.map(killHard));
    await sandbox?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('three SIGKILLs during the first full sync of npm start, then equality and exact counters', async () => {
    const env = npmStartEnv();
    // Slow pages (150 ms each, 30 pages) keep the run in flight long enough to be killed three times in the middle of it.
    await fetch(`${sandbox.url}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ slowMs: 150 }) });
    let runId: string | undefined;
    let lastFetched = -1;
    for (let kill = 1; kill <= 3; kill += 1) {
      const host = await startNpmStart(env);
      children.push(host.child);
      const api = new ApiClient(host.url, sandbox.url, ADMIN_KEY);
      runId ??= (await api.waitFor('the first run', async () => (await api.api('GET', '/api/connections/sandbox-crm/syncs')).body.runs?.[0]?.runId)) as string;
      // Wait until this incarnation has made progress of its own, then kill it without warning.
      const floor = lastFetched;
      lastFetched = await api.waitFor('progress', async () => {
        const f = (await api.run(runId!)).counters.fetched;
        return f > floor + 100 ? f : undefined;
      }, 30_000);
      expect((await api.run(runId)).state).toBe('running');
      await killHard(host.child);
    }
    await fetch(`${sandbox.url}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ slowMs: 0 }) });

    const host = await startNpmStart(env);
    children.push(host.child);
    const api = new ApiClient(host.url, sandbox.url, ADMIN_KEY);
    const run = await api.waitForRun(runId!, 60_000);
    expect(host.output()).toContain(`Resuming run ${runId}`);
    expect(run.state).toBe('done');
    expect(run.counters).toEqual({ fetched: 3000, created: 3000, updated: 0, unchanged: 0, deleted: 0, failed: 0 });
    await api.expectInStep(undefined, 'sandbox-crm');
    await killHard(host.child); // the next test starts its own host on this data
  });

  test('Ctrl-C (SIGINT) stops npm start cleanly, and the next start finds its data without a new full sync', async () => {
    const env = npmStartEnv();
    const first = await startNpmStart(env);
    children.push(first.child);
    const exited = new Promise<number | null>((done) => first.child.once('exit', (code) => done(code)));
    first.child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(first.output()).toContain('Stopped.');

    const second = await startNpmStart(env);
    children.push(second.child);
    const api = new ApiClient(second.url, sandbox.url, ADMIN_KEY);
    const runs = (await api.api('GET', '/api/connections/sandbox-crm/syncs')).body.runs;
    expect(runs).toHaveLength(1); // the finished run of the first test; no second full sync started
    expect(second.output()).not.toContain('Started full sync');
    expect((await api.api('GET', '/api/health', undefined, null)).status).toBe(200);
  });
});
