import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { allFunctions, appSetup } from '../functions/all';
import { engineOptionsFromEnv, useServices } from '../functions/services';
import { createServices } from '../shared/composition';
import { EXTENSIONS_SETTING, loadExtensions } from '../shared/extensions';
import { twoWayFor } from '../shared/core/outbound/registry';
import { pushRetryFromSettings } from '../shared/core/outbound/backoff';
import { SyncBridgeError } from '../shared/core/errors';
import { toRunView } from '../shared/core/runs/runView';
import { destinationPolicyFromEnv, setProviderDestinationPolicy } from '../shared/http/destinationPolicy';
import { createLocalPlatform } from '../shared/platform/local/localPlatform';
import { DEMO_CONNECTION_ID, ensureDemo, registerDemoWebhook } from './demoSetup';
import { requestBodyLimitFrom, startLocalHost } from './host';
import { httpTimeoutsFrom } from './httpTimeouts';
import { DEFAULT_APPLIER_NICENESS } from './threadPriority';

/**
 * `npm start`: the sandbox (unless SANDBOX_URL names one), the local Functions host on the
 * embedded platform, the demo tenant and connection, and a first full sync with progress.
 * The scheduler then keeps the connection in step. A second start resumes where the first stopped.
 */

function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SyncBridgeError('configuration', `${name} must be a whole number from ${min} to ${max}, not "${raw}".`);
  }
  return value;
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new SyncBridgeError('configuration', `Nothing answered at ${url} within ${timeoutMs} ms.`, { cause: error });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function startSandboxProcess(port: number): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [resolve(__dirname, '../sandbox/main.js')], {
    env: { ...process.env, SANDBOX_PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitForHttp(`${url}/_sandbox/faults`, 60_000),
    new Promise((_, reject) => child.once('exit', (code) => reject(new SyncBridgeError('configuration', `The sandbox exited with code ${code}; is port ${port} free?`)))),
  ]);
  return { url, child };
}

async function main(): Promise<void> {
  const port = intFromEnv('SYNCBRIDGE_PORT', 7071, 0, 65535);
  const sandboxPort = intFromEnv('SANDBOX_PORT', 7072, 0, 65535);
  const dataDir = resolve(process.env.SYNCBRIDGE_DATA_DIR ?? '.syncbridge');
  const maxRequestBodyBytes = requestBodyLimitFrom(process.env); // a bad value fails before anything starts
  const httpTimeouts = httpTimeoutsFrom(process.env);
  const pushRetry = pushRetryFromSettings(process.env);
  // The local platform's default: loopback and private providers allowed (the sandbox is on 127.0.0.1).
  setProviderDestinationPolicy(destinationPolicyFromEnv(process.env, true));
  const sandboxApiKey = process.env.SANDBOX_API_KEY ?? 'sandbox-api-key';
  // Loaded before anything starts: a module that cannot load stops the start with its path.
  const extensions = loadExtensions(process.env[EXTENSIONS_SETTING]);

  let sandbox: { url: string; child?: ChildProcess };
  if (process.env.SANDBOX_URL) {
    sandbox = { url: process.env.SANDBOX_URL.replace(/\/+$/, '') };
  } else {
    sandbox = await startSandboxProcess(sandboxPort);
  }

  // Journal-first webhook intake with the inbound worker on its own thread (docs/local-host.md
  // "Applier thread"); SYNCBRIDGE_LOCAL_APPLIER_THREAD=0 runs everything on one thread.
  const applierThread = intFromEnv('SYNCBRIDGE_LOCAL_APPLIER_THREAD', 1, 0, 1) === 1;
  // Without the journal, deliveries a journal-first start accepted before it was killed are drained.
  const platform = createLocalPlatform({ dataDir, secretKey: process.env.SYNCBRIDGE_SECRET_KEY, ...(applierThread ? { webhookJournal: { drain: 'applier-thread' as const } } : { drainLeftoverJournal: true }) });
  const services = createServices(platform, { engine: engineOptionsFromEnv(process.env), pushRetry });
  // Custom merge rules and adapters (shared/extensions.ts); the applier thread loads the same module.
  await extensions?.extend(services);
  useServices(services);
  const demo = await ensureDemo(services, { sandboxUrl: sandbox.url, sandboxApiKey, adminKey: process.env.SYNCBRIDGE_ADMIN_KEY });
  // Read the open run before the host starts: once it dispatches, the queued steps of a run left by
  // the last process may finish before this start gets to say it is resuming them.
  const open = await platform.runs.listOpenByConnection(DEMO_CONNECTION_ID);
  const host = await startLocalHost({
    functions: allFunctions,
    setup: appSetup,
    queue: platform.queue,
    port,
    maxRequestBodyBytes,
    ...httpTimeouts,
    log: (line) => platform.telemetry.log('info', line),
    ...(applierThread
      ? {
          applierThread: {
            dataDir,
            secretKey: process.env.SYNCBRIDGE_SECRET_KEY,
            engine: engineOptionsFromEnv(process.env),
            extensions: extensions?.path,
            destinationPolicy: destinationPolicyFromEnv(process.env, true),
            niceness: intFromEnv('SYNCBRIDGE_LOCAL_APPLIER_NICENESS', DEFAULT_APPLIER_NICENESS, 0, 19),
            journal: platform.journal,
          },
        }
      : {}),
  });

  // Pushes whose queue message was lost in a crash (committed, never sent) go out again now; the
  // broker's duplicate detection drops the ones that were in fact sent. A retry scheduled for
  // later is left to its scheduled message (the queue persists), or to the relay timer once due.
  const relayed = await twoWayFor(services).changes.relayPending();
  if (relayed > 0) console.log(`Re-sent ${relayed} pending push(es) left by the last run.`);
  const webhook = await registerDemoWebhook(services, { sandboxUrl: sandbox.url, hostUrl: host.url });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the host (in-flight steps finish first)…`);
    await host.stop();
    await platform.close();
    sandbox.child?.kill('SIGTERM');
    console.log('Stopped. `npm start` again resumes where this left off.');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  console.log(`SyncBridge local host: ${host.url}/api   (data in ${dataDir})`);
  console.log(`Sandbox provider:      ${sandbox.url}`);
  console.log(`Webhooks:              the sandbox sends every change to ${webhook.url} (signed); changes show up in the records API within a second or two, no sync run needed.`);
  if (demo.newAdminKey) console.log(`Admin API key for tenant "demo" (shown once, keep it): ${demo.newAdminKey}`);
  else if (demo.adminKeyFromEnv) console.log('Admin API key: the value of SYNCBRIDGE_ADMIN_KEY.');
  else console.log('Admin API key: the one printed at the first start (or set SYNCBRIDGE_ADMIN_KEY).');

  // First start: a full sync. Later starts: an in-flight run resumes from the queue by itself.
  let runId = open[0]?.id;
  const connection = await platform.connections.get(DEMO_CONNECTION_ID);
  const everSynced = Object.values(connection?.syncState ?? {}).some((s) => s.lastFullSyncAt);
  if (!runId && !everSynced) {
    runId = (await services.runs.startRun({ connection: demo.connection, mode: 'full', trigger: 'manual' })).id;
    console.log(`Started full sync ${runId} of ${demo.connection.entities.map((e) => e.name).join(', ')}.`);
  } else if (runId) {
    console.log(`Resuming run ${runId} (${open[0].state}).`);
  }
  if (runId) await reportProgress(services, runId, () => stopping);
  console.log(`\nTry:  curl -H "x-api-key: <key>" "${host.url}/api/connections/${DEMO_CONNECTION_ID}/records?entity=customers&limit=2"`);
  console.log(`      curl "${host.url}/api/health"`);
  console.log(`The scheduler keeps ${DEMO_CONNECTION_ID} in step (${demo.connection.schedule.cron}, ${demo.connection.schedule.timeZone}). Ctrl-C stops.`);
}

async function reportProgress(services: ReturnType<typeof createServices>, runId: string, stopped: () => boolean): Promise<void> {
  let last = '';
  while (!stopped()) {
    const run = await services.platform.runs.get(runId);
    if (!run) return;
    const view = toRunView(run, services.platform.clock.now());
    const parts = view.entities.map((e) => `${e.entity} ${e.counters.fetched}${e.total !== null ? `/${e.total}` : ''}`);
    const line = `[${view.state}] ${view.progress === null ? '' : `${Math.round(view.progress * 100)}% `}${parts.join('  ')}`;
    if (line !== last) console.log(line);
    last = line;
    if (run.finishedAt) {
      const c = view.counters;
      console.log(`Run ${run.id} ${run.state}: ${c.fetched} fetched, ${c.created} created, ${c.updated} updated, ${c.unchanged} unchanged, ${c.deleted} deleted, ${c.failed} failed.`);
      return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

main().catch((error) => {
  console.error(error instanceof SyncBridgeError ? `SyncBridge could not start: ${error.message}` : error);
  process.exit(1);
});
