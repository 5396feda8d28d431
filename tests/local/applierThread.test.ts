import type { InvocationContext, ServiceBusQueueFunctionOptions } from '@azure/functions';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { allFunctions, appSetup } from '../../functions/all';
import type { FunctionDefinition } from '../../functions/definition';
import { inboundWorker } from '../../functions/inboundWorker';
import { useServices } from '../../functions/services';
import { startLocalHost, type ApplierThreadOptions, type LocalHostOptions, type RunningLocalHost } from '../../local/host';
import { startSandbox, type RunningSandbox } from '../../sandbox/server';
import { createServices, type Services } from '../../shared/composition';
import { deliveryIdFor, webhookIntakeFor } from '../../shared/core/webhookIntake';
import { PRIVATE_ALLOWED } from '../../shared/http/destinationPolicy';
import { createLocalPlatform, type LocalPlatform } from '../../shared/platform/local/localPlatform';
import { JournalAppender } from '../../shared/platform/local/webhookJournal';
import { customerEvent, postWebhookAs, undrainedJournalKeys } from '../support/journaledWebhooks';
import { sleep, tempDirectory, waitFor } from './helpers';

/** Polls an async check until it returns a value other than undefined/false, or fails after timeoutMs. */
async function until<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await sleep(5);
  }
}

/**
 * The local host's applier thread (local/applierThread.ts) with the journal-first webhook intake
 * (createLocalPlatform's webhookJournal, drain 'applier-thread'), as `npm start` runs them: the
 * receiving thread only journals; the thread drains the journal into the delivery log and the
 * inbound queue and runs the inbound worker, on its own SQLite handle on the same data folder.
 * The thread runs the build (dist/local/applierThreadMain.js), so `npm run build` comes first.
 */
const THREAD_SCRIPT = resolve(__dirname, '../../dist/local/applierThreadMain.js');
const assertBuilt = () => {
  if (!existsSync(THREAD_SCRIPT)) throw new Error(`${THREAD_SCRIPT} is missing: run "npm run build" first (npm test does).`);
};

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const TENANT = 't1';
const HOOKS = 'hooks';

/**
 * inboundWorker as the main thread would run it, counting its invocations: the host must leave it
 * to the applier thread, so the count stays 0 while the thread applies everything.
 */
let mainThreadInvocations = 0;
const inboundOptions = inboundWorker.options as ServiceBusQueueFunctionOptions;
const countedInboundWorker: FunctionDefinition = {
  kind: 'serviceBusQueue',
  name: inboundWorker.name,
  options: {
    ...inboundOptions,
    handler: async (message: unknown, context: InvocationContext) => {
      mainThreadInvocations += 1;
      return inboundOptions.handler(message, context);
    },
  },
};

/**
 * The main thread's functions: the HTTP ones and inboundWorker (for the thread). No other queue
 * function and no timer, so that the main thread writes nothing to SQLite on its own while a test
 * holds the database's write lock from this thread.
 */
const mainFunctions: FunctionDefinition[] = [...allFunctions.filter((f) => f.kind === 'http'), countedInboundWorker];

interface ThreadedHost {
  platform: LocalPlatform;
  services: Services;
  host: RunningLocalHost;
  url: string;
  /** Every host line, the thread's included (it logs through the host's `log`). */
  lines: string[];
  /** Stops the host, then closes the receiving platform. */
  stop(): Promise<void>;
}

async function startThreadedHost(dataDir: string, options: Partial<LocalHostOptions> = {}, setUp?: (services: Services) => Promise<void>): Promise<ThreadedHost> {
  const platform = createLocalPlatform({ dataDir, telemetrySink: new PassThrough().resume(), webhookJournal: { drain: 'applier-thread' } });
  const services = createServices(platform);
  useServices(services);
  await setUp?.(services);
  const lines: string[] = [];
  const host = await startLocalHost({
    functions: mainFunctions,
    setup: appSetup,
    queue: platform.queue,
    port: 0,
    enableTimers: false,
    logInvocations: true,
    log: (line) => lines.push(line),
    applierThread: { dataDir, telemetry: 'discard', destinationPolicy: PRIVATE_ALLOWED, journal: platform.journal },
    ...options,
  });
  return {
    platform,
    services,
    host,
    url: host.url,
    lines,
    async stop() {
      await host.stop();
      await platform.close();
    },
  };
}

/** The tenant and a webhook-only use of a sandbox connection (the events carry their records). */
async function setUpHooks(services: Services, sandbox: RunningSandbox): Promise<void> {
  await services.tenants.ensureTenant(TENANT, 'Tenant one');
  await services.connections.create({ tenantId: TENANT, id: HOOKS, provider: 'sandbox', config: { baseUrl: sandbox.url }, credentials: { type: 'apiKey', apiKey: sandbox.apiKey } });
  await webhookIntakeFor(services).setSecrets(TENANT, HOOKS, [SECRET]);
}

const succeededInvocations = (lines: string[]) => lines.filter((line) => line.includes("Executed 'inboundWorker' (Succeeded")).length;

/**
 * Holds SQLite's write lock on the data folder's database from a plain handle of this thread (as
 * another process would): the applier thread's drain then cannot store anything. The receiving
 * platform's open turn is committed first, or the handle would wait for this very thread.
 */
async function holdWriteLock(platform: LocalPlatform): Promise<{ release(): void }> {
  await platform.queue.whenDurable();
  const holder = new Database(join(platform.dataDir, 'syncbridge.db'), { timeout: 5_000 });
  holder.exec('BEGIN IMMEDIATE');
  return {
    release() {
      if (!holder.open) return;
      holder.exec('ROLLBACK');
      holder.close();
    },
  };
}

describe('local host with the applier thread (journal-first webhook intake)', () => {
  let sandbox: RunningSandbox;
  let dir: ReturnType<typeof tempDirectory>;
  let h: ThreadedHost;

  const post = (webhookId: string, event: unknown) => postWebhookAs(h.url, HOOKS, SECRET, webhookId, event);
  const deliveryIdOf = (response: { body: any }) => response.body.deliveryId as string;

  /** The main thread's niceness before any host started (the applier thread's is relative to it). */
  const mainNicenessBefore = getPriority();

  beforeAll(async () => {
    assertBuilt();
    sandbox = await startSandbox({ port: 0, recordsPerEntity: 5 });
    dir = tempDirectory('syncbridge-applier-thread-');
    // Receivers poll for messages sent elsewhere only every 5 s: a prompt pickup of a message sent
    // from the main thread can then only come from the host forwarding the send to the thread.
    h = await startThreadedHost(dir.path, { queuePollIntervalMs: 5_000 }, (services) => setUpHooks(services, sandbox));
  });

  afterAll(async () => {
    await h?.stop();
    await sandbox?.close();
    dir?.remove();
  });

  it('signed webhooks posted over HTTP are accepted (202), then applied at once by the applier thread\'s drain: no inbound message on either thread', async () => {
    const invokedBefore = mainThreadInvocations;
    const succeededBefore = succeededInvocations(h.lines);
    const ids = Array.from({ length: 40 }, (_, i) => `cus_burst_${i}`);
    const responses = await Promise.all(ids.map((id) => post(`msg_burst_${id}`, customerEvent(id))));
    expect(responses.map((r) => r.status)).toEqual(ids.map(() => 202));

    for (const response of responses) {
      const id = deliveryIdOf(response);
      await until(async () => (await h.platform.deliveries.get(id))?.status === 'applied' || undefined, 10_000, `delivery ${id} applied`).catch(async () => {
        throw new Error(`delivery ${id} is ${(await h.platform.deliveries.get(id))?.status}; host lines:\n${h.lines.join('\n')}`);
      });
    }
    const statuses = await Promise.all(responses.map(async (r) => (await h.platform.deliveries.get(deliveryIdOf(r)))?.status));
    expect(statuses).toEqual(ids.map(() => 'applied'));
    for (const id of ids) {
      const record = await h.platform.records.get({ tenantId: TENANT, connectionId: HOOKS, entity: 'customers' }, id);
      expect(record).toMatchObject({ externalId: id, data: { name: `Customer ${id}` }, deleted: false });
    }
    // The events carry their records: the drain applied them (journalApply.ts), so neither the
    // thread's inbound worker (its invocations are logged through the host's log) nor the main
    // thread's ran, and nothing waits on sync-inbound.
    await sleep(200);
    expect(succeededInvocations(h.lines) - succeededBefore).toBe(0);
    expect(mainThreadInvocations - invokedBefore).toBe(0);
    expect(h.platform.queue.depth('sync-inbound')).toMatchObject({ active: 0, scheduled: 0 });
  });

  it('an id-only event (its record fetched from the provider) goes to the thread\'s inbound worker in a message; the event after it is applied too', async () => {
    const invokedBefore = mainThreadInvocations;
    const succeededBefore = succeededInvocations(h.lines);
    // cus_0000002 as the sandbox holds it, named by id only; then an event carrying a record.
    const idOnly = await post(`msg_id_only_${randomBytes(4).toString('hex')}`, { type: 'customers.updated', data: { entity: 'customers', id: 'cus_0000002' } });
    const after = await post(`msg_after_${randomBytes(4).toString('hex')}`, customerEvent('cus_after_id_only'));
    expect([idOnly.status, after.status]).toEqual([202, 202]);
    for (const response of [idOnly, after]) {
      await until(async () => (await h.platform.deliveries.get(deliveryIdOf(response)))?.status === 'applied' || undefined, 10_000, `delivery ${deliveryIdOf(response)} applied`);
    }
    const fetched = await h.platform.records.get({ tenantId: TENANT, connectionId: HOOKS, entity: 'customers' }, 'cus_0000002');
    const remote = (await (await fetch(`${sandbox.url}/v1/customers/cus_0000002`, { headers: { 'X-Api-Key': sandbox.apiKey } })).json()) as { name: string };
    expect(fetched).toMatchObject({ externalId: 'cus_0000002', data: { name: remote.name } });
    await waitFor(() => succeededInvocations(h.lines) - succeededBefore >= 1, 5_000, 'the thread\'s invocation logged');
    expect(mainThreadInvocations - invokedBefore).toBe(0);
  });

  (process.platform === 'linux' ? it : it.skip)('the applier thread runs 10 steps below the process\'s priority (receipt comes first); the receiving thread and the rest keep their own', () => {
    const line = h.lines.find((l) => /The applier thread runs as thread \d+ at niceness \d+ \(the process's: \d+\)\./.test(l));
    expect(line).toBeDefined();
    const [, tid, to, from] = /thread (\d+) at niceness (\d+) \(the process's: (\d+)\)/.exec(line!)!;
    // The kernel's own account of each task (field 19 of /proc/<pid>/task/<tid>/stat).
    const niceOf = (task: number | string) => Number(readFileSync(`/proc/self/task/${task}/stat`, 'utf8').split(') ')[1].split(' ')[16]);
    expect(Number(from)).toBe(mainNicenessBefore);
    expect(Number(to)).toBe(Math.min(19, mainNicenessBefore + 10));
    expect(niceOf(tid)).toBe(Math.min(19, mainNicenessBefore + 10));
    expect(niceOf(process.pid)).toBe(mainNicenessBefore); // the main task, read from the kernel, as before the host
    // Only that thread and the WAL checkpointer thread of its platform (created after it lowered
    // itself, so inheriting it) yield; libuv's pool, shared with this thread, does not.
    const lowered = readdirSync('/proc/self/task').filter((task) => niceOf(task) !== mainNicenessBefore);
    expect(lowered).toContain(tid);
    expect(lowered.length).toBe(2);
  });

  it('a delivery id seen again answers 200 duplicate, both while its delivery is only journaled and once it is drained', async () => {
    const webhookId = `msg_dup_${randomBytes(4).toString('hex')}`;
    const lock = await holdWriteLock(h.platform);
    let first: { status: number; body: any };
    try {
      first = await post(webhookId, customerEvent('cus_dup'));
      expect(first.status).toBe(202);
      // Journaled and not drained (the drain cannot write): the journal itself answers.
      expect(h.platform.journal!.backlog).toBe(1);
      expect(await h.platform.deliveries.get(deliveryIdOf(first))).toBeUndefined();
      const again = await post(webhookId, customerEvent('cus_dup', 'Changed in the retry'));
      expect({ status: again.status, body: again.body }).toEqual({ status: 200, body: { deliveryId: deliveryIdOf(first), duplicate: true } });
      expect(h.platform.journal!.backlog).toBe(1);
    } finally {
      lock.release();
    }

    const id = deliveryIdOf(first);
    await until(async () => (await h.platform.deliveries.get(id))?.status === 'applied' || undefined, 15_000, 'the delivery applied');
    await waitFor(() => h.platform.journal!.backlog === 0, 5_000, 'the journal drained');
    // Drained: now the stored claim answers.
    const late = await post(webhookId, customerEvent('cus_dup', 'Changed in a late retry'));
    expect({ status: late.status, body: late.body }).toEqual({ status: 200, body: { deliveryId: id, duplicate: true } });
    const record = await h.platform.records.get({ tenantId: TENANT, connectionId: HOOKS, entity: 'customers' }, 'cus_dup');
    expect(record?.data).toMatchObject({ name: 'Customer cus_dup' });
    const logged = (await h.platform.deliveries.list({ tenantId: TENANT, connectionId: HOOKS, limit: 500 })).deliveries.filter((d) => d.webhookId === webhookId);
    expect(logged).toHaveLength(1);
  });

  it('takes delivery ids that begin with their receipt time, and names a duplicate of a delivery taken before them by its derived id', async () => {
    const firstId = `msg_order_a_${randomBytes(4).toString('hex')}`;
    const a = await post(firstId, customerEvent('cus_order_a'));
    await sleep(3);
    const b = await post(`msg_order_b_${randomBytes(4).toString('hex')}`, customerEvent('cus_order_b'));
    expect([a.status, b.status]).toEqual([202, 202]);
    // The id index of the delivery log grows at its end (docs/webhook-intake.md "Ordered delivery ids").
    expect(deliveryIdOf(a)).toMatch(/^dlv_[0-9a-z]{9}[A-Za-z0-9_-]{16}$/);
    expect(deliveryIdOf(a) < deliveryIdOf(b)).toBe(true);
    expect(deliveryIdOf(a)).not.toBe(deliveryIdFor(HOOKS, firstId));

    // A delivery stored before ordered ids: its claim holds no id, and its id was the derived one.
    const old = `msg_before_upgrade_${randomBytes(4).toString('hex')}`;
    await h.platform.idempotency.claim(`webhook:${HOOKS}:${old}`, 60_000);
    await h.platform.idempotency.complete(`webhook:${HOOKS}:${old}`, 'taken', { ttlMs: 60_000 });
    const repeat = await post(old, customerEvent('cus_before_upgrade'));
    expect({ status: repeat.status, body: repeat.body }).toEqual({ status: 200, body: { deliveryId: deliveryIdFor(HOOKS, old), duplicate: true } });
  });

  it('a forged delivery is refused at once while another writer holds the database; the thread counts it in health afterwards', async () => {
    const before = (await h.platform.deliveries.health(HOOKS)).rejected;
    const lock = await holdWriteLock(h.platform);
    let elapsedMs: number;
    try {
      const startedAt = Date.now();
      const forged = await postWebhookAs(h.url, HOOKS, `whsec_${randomBytes(24).toString('base64')}`, `msg_forged_${randomBytes(4).toString('hex')}`, customerEvent('cus_forged'));
      elapsedMs = Date.now() - startedAt;
      expect(forged.status).toBe(401);
      // The receiving thread wrote nothing for it (a write would wait for the lock: 5 s busy timeout).
      expect((await h.platform.deliveries.health(HOOKS)).rejected).toBe(before);
    } finally {
      lock.release();
    }
    expect(elapsedMs).toBeLessThan(2_000);
    await until(async () => (await h.platform.deliveries.health(HOOKS)).rejected === before + 1 || undefined, 15_000, 'the refusal counted');
    expect((await h.platform.deliveries.health(HOOKS)).lastError).toMatch(/^401: /);
  });

  it("a run's step sent from the main thread is picked up by the thread at once (the send is forwarded), not at its next 5 s poll", async () => {
    const connection = await h.services.connections.create({ tenantId: TENANT, id: 'crm', provider: 'sandbox', config: { baseUrl: sandbox.url }, credentials: { type: 'apiKey', apiKey: sandbox.apiKey } });
    // The thread's receivers have been idle since their last poll or message.
    await sleep(300);
    const invokedBefore = mainThreadInvocations;
    for (let i = 0; i < 2; i += 1) {
      const started = Date.now();
      const run = await h.services.runs.startRun({ connection, mode: 'full', trigger: 'manual' });
      const finished = await until(async () => {
        const stored = await h.platform.runs.get(run.id);
        return stored?.finishedAt ? stored : undefined;
      }, 15_000, `run ${run.id} to finish`);
      const elapsedMs = Date.now() - started;
      expect(finished).toMatchObject({ state: 'done' });
      // Its steps ran on the thread; with the forwarding removed the first one would wait for the
      // thread's next poll, up to 5 s.
      expect(elapsedMs).toBeLessThan(1_500);
    }
    expect(mainThreadInvocations - invokedBefore).toBe(0);
  });
});

describe('local host with the applier thread: configuration and restart', () => {
  let sandbox: RunningSandbox;
  let dir: ReturnType<typeof tempDirectory>;
  const hosts: ThreadedHost[] = [];

  beforeAll(async () => {
    assertBuilt();
    sandbox = await startSandbox({ port: 0, recordsPerEntity: 5 });
  });
  beforeEach(() => {
    dir = tempDirectory('syncbridge-applier-restart-');
  });
  afterEach(async () => {
    for (const host of hosts.splice(0)) await host.stop().catch(() => undefined);
    dir.remove();
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('a function name in applierThread.functions that is not a queue-triggered function of the host, or a niceness out of 0-19, is a configuration error', async () => {
    const platform = createLocalPlatform({ dataDir: dir.path, telemetrySink: new PassThrough().resume(), webhookJournal: { drain: 'applier-thread' } });
    const startWith = (thread: Partial<ApplierThreadOptions>) =>
      startLocalHost({
        functions: mainFunctions,
        queue: platform.queue,
        port: 0,
        enableTimers: false,
        log: () => {},
        applierThread: { dataDir: dir.path, telemetry: 'discard', destinationPolicy: PRIVATE_ALLOWED, journal: platform.journal, ...thread },
      });
    try {
      for (const name of ['inboundWorkr', 'webhookReceiver']) {
        await expect(startWith({ functions: [name] })).rejects.toMatchObject({ code: 'configuration', message: expect.stringContaining(`"${name}"`) });
      }
      for (const niceness of [-1, 20, 2.5]) {
        await expect(startWith({ niceness })).rejects.toMatchObject({ code: 'configuration', message: expect.stringContaining(`niceness must be a whole number from 0 to 19, got ${niceness}`) });
      }
    } finally {
      await platform.close();
    }
  });

  it('stop() resolves with deliveries still journaled; the next host on the data folder drains them: each applied exactly once, retries answered duplicate', async () => {
    const first = await startThreadedHost(dir.path, { queuePollIntervalMs: 60_000 }, (services) => setUpHooks(services, sandbox));
    hosts.push(first);
    const post = (host: ThreadedHost, webhookId: string, event: unknown) => postWebhookAs(host.url, HOOKS, SECRET, webhookId, event);

    // Batch A is drained and applied by the first host.
    const batchA = Array.from({ length: 10 }, (_, i) => `cus_a_${i}`);
    const acceptedA = await Promise.all(batchA.map((id) => post(first, `msg_${id}`, customerEvent(id))));
    expect(acceptedA.map((r) => r.status)).toEqual(batchA.map(() => 202));
    for (const r of acceptedA) await until(async () => (await first.platform.deliveries.get(r.body.deliveryId))?.status === 'applied' || undefined, 10_000, 'batch A applied');

    // Batch B is only journaled: this thread holds the write lock, so the drain's batches fail
    // (after SQLite's 5 s busy timeout), and the host is stopped at once. The drain finishes the
    // batch in hand when told to stop; the appends' wake-ups start a second batch before the stop
    // arrives, so the lock is held until that one failed too (about 10 s), and given back while
    // the thread's last step (releasing its locks) waits for it.
    const lock = await holdWriteLock(first.platform);
    const lockedAt = Date.now();
    const batchB = Array.from({ length: 25 }, (_, i) => `cus_b_${i}`);
    let acceptedB: Array<{ status: number; body: any }>;
    try {
      acceptedB = await Promise.all(batchB.map((id) => post(first, `msg_${id}`, customerEvent(id))));
      expect(acceptedB.map((r) => r.status)).toEqual(batchB.map(() => 202));
      expect(first.platform.journal!.backlog).toBe(batchB.length);
      const releaseTimer = setTimeout(() => lock.release(), Math.max(0, lockedAt + 12_000 - Date.now()));
      // While the stop waits for the thread's drain, the journal stays taken: a host started on the
      // folder meanwhile would otherwise drain beside it.
      const journalDir = first.platform.journal!.dir;
      const takenWhileStopping: string[] = [];
      const probe = setInterval(() => {
        try {
          new JournalAppender(journalDir).close();
          takenWhileStopping.push(new Date().toISOString());
        } catch (error) {
          if ((error as { code?: string }).code !== 'configuration') throw error;
        }
      }, 25);
      try {
        await first.host.stop();
      } finally {
        clearInterval(probe);
        clearTimeout(releaseTimer);
      }
      expect(takenWhileStopping).toEqual([]);
      expect(Date.now() - lockedAt).toBeGreaterThan(5_000); // the probe ran for the whole drain's stop
      new JournalAppender(journalDir).close(); // and given back once stop() resolved
    } finally {
      lock.release();
    }
    expect(first.platform.journal!.backlog).toBe(batchB.length);
    // Nothing of batch B reached the log while the first host ran.
    for (const r of acceptedB!) expect(await first.platform.deliveries.get(r.body.deliveryId)).toBeUndefined();
    await first.platform.close();
    hosts.splice(hosts.indexOf(first), 1);

    // What the first host left: batch B, journaled after the drain's checkpoint.
    const left = undrainedJournalKeys(join(dir.path, 'webhook-journal'));
    expect(left.sort()).toEqual(batchB.map((id) => `webhook:${HOOKS}:msg_${id}`).sort());

    const second = await startThreadedHost(dir.path);
    hosts.push(second);
    const all = [...acceptedA, ...acceptedB!];
    for (const r of all) {
      const id = r.body.deliveryId as string;
      await until(async () => (await second.platform.deliveries.get(id))?.status === 'applied' || undefined, 10_000, `delivery ${id} applied after the restart`);
    }
    const logged = (await second.platform.deliveries.list({ tenantId: TENANT, connectionId: HOOKS, limit: 500 })).deliveries;
    expect(logged.map((d) => d.id).sort()).toEqual(all.map((r) => r.body.deliveryId).sort());
    expect(logged.every((d) => d.status === 'applied')).toBe(true);
    // Batch A's by the first host, batch B's by the second's drain; once each (version 1 below).
    for (const id of [...batchA, ...batchB]) {
      const record = await second.platform.records.get({ tenantId: TENANT, connectionId: HOOKS, entity: 'customers' }, id);
      expect(record).toMatchObject({ externalId: id, version: 1 });
    }
    // The drain's checkpoint file follows within its 250 ms once it has caught up (deliveries are
    // applied in the drain's own commit, so it can trail them).
    await until(async () => undrainedJournalKeys(join(dir.path, 'webhook-journal')).length === 0 || undefined, 5_000, 'the journal checkpointed to its end');

    const retries = await Promise.all([...batchA, ...batchB].map((id) => post(second, `msg_${id}`, customerEvent(id))));
    expect(retries.map((r) => `${r.status} duplicate=${r.body?.duplicate}`)).toEqual([...batchA, ...batchB].map(() => '200 duplicate=true'));
  });
});
