import { writeFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { allFunctions, appSetup } from '../../functions/all';
import { useServices } from '../../functions/services';
import { startLocalHost } from '../../local/host';
import { startSandbox, type RunningSandbox } from '../../sandbox/server';
import { createServices } from '../../shared/composition';
import { contentHash } from '../../shared/core/hash';
import { applyExtensions } from '../../shared/extensions';
import { PRIVATE_ALLOWED } from '../../shared/http/destinationPolicy';
import { createLocalPlatform } from '../../shared/platform/local/localPlatform';
import { ApiClient } from '../support/apiClient';
import { tempDirectory } from './helpers';

/**
 * A custom merge rule registered in the extensions module (shared/extensions.ts) is known on the
 * local host's applier thread, where pulls and webhooks merge, and not only on the receiving thread,
 * where connection saves check it: the thread loads the same module into its own services. The
 * thread runs the build (dist/local/applierThreadMain.js), so `npm run build` comes first.
 */
const THREAD_SCRIPT = resolve(__dirname, '../../dist/local/applierThreadMain.js');

const EXTENSION = `
exports.extend = (services) => {
  // The two names joined, so a test sees that the rule ran and read both sides.
  services.customRules.register('join-names', (conflict) => ({ value: String(conflict.remote) + ' & ' + String(conflict.local) }));
};
`;

/**
 * A rule whose first call crashes the thread (an uncaught error, thrown before the step's writes
 * commit); later calls, in the restarted thread, find the marker file and merge.
 */
const CRASHING_ONCE = `
const { existsSync, writeFileSync } = require('node:fs');
const marker = require('node:path').join(__dirname, 'crashed-once');
exports.extend = (services) => {
  services.customRules.register('join-names', (conflict) => {
    if (!existsSync(marker)) {
      writeFileSync(marker, String(require('node:worker_threads').threadId));
      process.nextTick(() => { throw new Error('extension code crashed the applier thread'); });
    }
    return { value: String(conflict.remote) + ' & ' + String(conflict.local) };
  });
};
`;

describe('the extensions module on the applier thread', () => {
  let sandbox: RunningSandbox;

  beforeAll(async () => {
    if (!existsSync(THREAD_SCRIPT)) throw new Error(`${THREAD_SCRIPT} is missing: run "npm run build" first (npm test does).`);
    sandbox = await startSandbox({ port: 0, recordsPerEntity: 5 });
  });

  afterAll(async () => sandbox?.close());

  /**
   * A two-way connection whose customers merge by the custom rule, synced in full; then a local
   * change of a name left unpushed and a remote change of the same name, and an incremental sync:
   * the pull (on the applier thread) meets the local change and merges the two by the rule.
   */
  async function pullMeetingALocalChange<T>(
    threadLoadsExtensions: boolean,
    observe: (api: ApiClient, runId: string, name: () => Promise<unknown>, lines: string[]) => Promise<T>,
    scenario: { extension?: string; externalId?: string; connectionId?: string; restartDelayMs?: number } = {},
  ): Promise<T> {
    const dir = tempDirectory('syncbridge-extensions-');
    const extensionPath = join(dir.path, 'extensions.js');
    writeFileSync(extensionPath, scenario.extension ?? EXTENSION);
    const platform = createLocalPlatform({ dataDir: dir.path, telemetrySink: new PassThrough().resume(), webhookJournal: { drain: 'applier-thread' } });
    const services = createServices(platform);
    await applyExtensions(services, extensionPath);
    useServices(services);
    const lines: string[] = [];
    const host = await startLocalHost({
      functions: allFunctions,
      setup: appSetup,
      queue: platform.queue,
      port: 0,
      enableTimers: false,
      log: (line) => lines.push(line),
      applierThread: {
        dataDir: dir.path,
        telemetry: 'discard',
        destinationPolicy: PRIVATE_ALLOWED,
        journal: platform.journal,
        ...(threadLoadsExtensions ? { extensions: extensionPath } : {}),
        ...(scenario.restartDelayMs !== undefined ? { restartDelayMs: scenario.restartDelayMs } : {}),
      },
    });
    try {
      await services.tenants.ensureTenant('t1', 'Tenant one');
      const { key } = await services.tenants.issueApiKey('t1', 'admin', 'test');
      const api = new ApiClient(host.url, sandbox.url, key);
      const connectionId = scenario.connectionId ?? (threadLoadsExtensions ? 'joined' : 'unjoined');
      // Saved on this thread: the policy's rule is checked against this thread's services.
      const created = await api.api('POST', '/api/connections', {
        id: connectionId,
        provider: 'sandbox',
        config: { baseUrl: sandbox.url, mergePolicy: { customers: { default: { kind: 'custom', name: 'join-names' } } } },
        credentials: { type: 'apiKey', apiKey: sandbox.apiKey },
        entities: [{ name: 'customers', direction: 'both' }],
      });
      expect(created.status).toBe(201);
      expect((await api.waitForRun(await api.startSync('full', connectionId))).state).toBe('done');

      // Each case its own record of the shared sandbox, so that its remote change is one the pull has not seen.
      const externalId = scenario.externalId ?? (threadLoadsExtensions ? 'cus_0000001' : 'cus_0000002');
      const scope = { tenantId: 't1', connectionId, entity: 'customers' };
      const current = (await platform.records.get(scope, externalId))!;
      const data = { ...current.data, name: 'Local' };
      const outboxId = `out_${connectionId}`;
      // Committed but not pushed: its push message is never sent in this test.
      await platform.outbox.commitLocalChange(
        { ...current, data, hash: contentHash(data), version: current.version + 1, base: current.data, pendingPush: { op: 'update', version: current.version + 1, outboxId, since: new Date().toISOString() } },
        { id: outboxId, ...scope, externalId, recordId: current.id, version: current.version + 1, op: 'update', data, changedFields: ['name'], state: 'pending', attempts: 0, createdAt: '', updatedAt: '' },
      );
      await api.sandbox('PATCH', `records/customers/${externalId}`, { name: 'Remote' });
      const runId = await api.startSync('incremental', connectionId);
      return await observe(api, runId, async () => (await platform.records.get(scope, externalId))?.data.name, lines);
    } finally {
      await host.stop();
      await platform.close();
      dir.remove();
    }
  }

  it('merges a pull on the thread by a rule the module registered', async () => {
    await pullMeetingALocalChange(true, async (api, runId, name) => {
      const run = await api.waitForRun(runId);
      expect(run.state).toBe('done');
      expect(run.entities[0].counters).toMatchObject({ updated: 1, failed: 0 });
      expect(await name()).toBe('Remote & Local');
    });
  }, 60_000);

  it('without the module the thread does not know the rule: the merge fails and is retried, the local change kept', async () => {
    await pullMeetingALocalChange(false, async (api, runId, name) => {
      const run = await api.waitFor('the step to fail', async () => {
        const current = await api.run(runId);
        return current.entities[0].lastError ? current : undefined;
      });
      expect(run.entities[0].lastError).toMatch(/internal error .*retrying/);
      expect(run.finishedAt).toBeNull();
      expect(await name()).toBe('Local');
    });
  }, 60_000);

  it('the thread crashing mid-merge (an uncaught error in extension code) is started again, and the run finishes the merge', async () => {
    // The message is delivered again to the restarted thread, which merges.
    await pullMeetingALocalChange(
      true,
      async (api, runId, name, lines) => {
        const run = await api.waitForRun(runId, 30_000);
        expect(run.state).toBe('done');
        expect(run.entities[0].counters).toMatchObject({ updated: 1, failed: 0 });
        expect(await name()).toBe('Remote & Local');
        expect(lines.filter((l) => l.includes('The applier thread failed: Error: extension code crashed the applier thread'))).toHaveLength(1);
        expect(lines.filter((l) => /The applier thread ended unexpectedly \(exit code 1\); starting it again in 1000 ms\./.test(l))).toHaveLength(1);
        // Started twice: at the host's start and after the crash.
        expect(lines.filter((l) => /The applier thread runs (as thread|at the process's priority)/.test(l))).toHaveLength(2);
      },
      { extension: CRASHING_ONCE, externalId: 'cus_0000003', connectionId: 'crashing' },
    );
  }, 60_000);

  it('a stop while the crashed thread waits to be started again ends the host without starting it', async () => {
    const lines = await pullMeetingALocalChange(
      true,
      async (api, runId, name, hostLines) => {
        await api.waitFor('the crash', async () => hostLines.some((l) => l.includes('The applier thread ended unexpectedly')));
        return hostLines; // the host stops now, well within the 3 s before the restart
      },
      { extension: CRASHING_ONCE, externalId: 'cus_0000004', connectionId: 'stopped-crashing', restartDelayMs: 3_000 },
    );
    const crashAt = lines.findIndex((l) => l.includes('The applier thread ended unexpectedly (exit code 1); starting it again in 3000 ms.'));
    expect(crashAt).toBeGreaterThanOrEqual(0);
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    // Nothing of a thread started again (or trying to start, on a data folder that is gone).
    expect(lines.slice(crashAt + 1).filter((l) => /applier thread/i.test(l))).toEqual([]);
    expect(lines.filter((l) => /The applier thread runs (as thread|at the process's priority)/.test(l))).toHaveLength(1);
  }, 60_000);

  it('a module the thread cannot load stops the host from starting, naming the setting', async () => {
    const dir = tempDirectory('syncbridge-extensions-');
    const platform = createLocalPlatform({ dataDir: dir.path, telemetrySink: new PassThrough().resume(), webhookJournal: { drain: 'applier-thread' } });
    useServices(createServices(platform));
    try {
      await expect(
        startLocalHost({
          functions: allFunctions,
          setup: appSetup,
          queue: platform.queue,
          port: 0,
          enableTimers: false,
          log: () => undefined,
          applierThread: { dataDir: dir.path, telemetry: 'discard', destinationPolicy: PRIVATE_ALLOWED, journal: platform.journal, extensions: join(dir.path, 'missing.js') },
        }),
      ).rejects.toThrow(/SYNCBRIDGE_EXTENSIONS names .*missing\.js, which does not exist/);
    } finally {
      platform.journal?.close();
      await platform.close();
      dir.remove();
    }
  }, 60_000);
});
