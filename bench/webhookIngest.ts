import { fork, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { postRequest, RawHttpClient } from './rawHttpClient';

/**
 * Webhook ingest: signed deliveries POSTed by 50 concurrent keep-alive clients, each to its own
 * connection (so its own session on sync-inbound), against (a) a bare node:http server that reads
 * the body and answers 202, (b) the minimal durable receiver (minimalDurableReceiver.ts: the
 * least work that meets the target's definition, applying too), and (c) the local host, where
 * every 202 means verified, de-duplicated, logged and durably enqueued. The server runs in a child process so that the load generator does
 * not share its event loop. Receipt-to-stored is measured afterwards from the store: each record's
 * lastModifiedAt minus its delivery's receivedAt (both stamped by the host's clock).
 *
 * Each server first takes the same load for BENCH_WEBHOOK_WARMUP_SECONDS (default 2; 0 skips it),
 * reported on its own as `warmup`, and is then measured for BENCH_WEBHOOK_SECONDS (default 5): the
 * measured figures are a running server's, not its first seconds' (JIT compilation, first reads of
 * each connection, caches filling), which a 5-second run would otherwise mix into its p99.
 * Receipt-to-stored counts every delivery of both phases.
 */

export interface WebhookIngestResult {
  bare: LoadResult;
  /** The second ceiling: bench/minimalDurableReceiver.ts, verifying, enqueuing and applying. */
  minimal: LoadResult & { receiptToStoredP99Ms: number };
  /**
   * Only with BENCH_MINIMAL_WRITERS=n: the minimal receiver with SQLite on n worker threads (one
   * file each, connections spread over them) and HTTP on the main thread — another process model.
   */
  minimalOnWriterThreads?: LoadResult & { receiptToStoredP99Ms: number; writerThreads: number };
  /**
   * The third ceiling: the minimal receiver journal first (a journal file is the queue, applier
   * threads apply, answers wait when the backlog is full). BENCH_JOURNAL_APPLIERS (default 2),
   * BENCH_JOURNAL_BACKLOG (default 500).
   */
  minimalJournal: LoadResult & { receiptToStoredP99Ms: number; appliers: number; backlog: number };
  host: LoadResult;
  receiptToStored: { count: number; p50Ms: number; p99Ms: number };
  /**
   * Only with BENCH_HOST_SINGLE_THREAD=1: the same host with the journal off and every function on
   * one thread (SYNCBRIDGE_LOCAL_APPLIER_THREAD=0), measured after it.
   */
  hostSingleThread?: LoadResult & { receiptToStored: { count: number; p50Ms: number; p99Ms: number } };
}

export interface LoadResult {
  accepted: number;
  other: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /**
   * CPU time per request (user + system, microseconds) of the server process (all its threads)
   * and of the load generator, over the load phase. Their sum per request, against the machine's
   * cores, is what bounds the rate: 2 cores give 400 µs per request at 5,000/s.
   */
  serverCpuUs: number;
  loadCpuUs: number;
  /** The same load before the measured phase (BENCH_WEBHOOK_WARMUP_SECONDS), on the same server. */
  warmup?: WarmupResult;
}

/** The warm-up phase's figures, reported beside the measured ones; absent with a warm-up of 0. */
export type WarmupResult = Pick<LoadResult, 'accepted' | 'other' | 'perSecond' | 'p50Ms' | 'p99Ms'> & { seconds: number; maxMs: number };

const CONNECTIONS = 50;
const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const KEY = Buffer.alloc(32, 9);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** A ~1 KB customers.updated event for record n, signed like the sandbox signs. */
function signedDelivery(n: number, connection: number): { headers: Record<string, string>; body: string } {
  const id = `msg_${n}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({
    id,
    type: 'customers.updated',
    data: { entity: 'customers', record: { id: `cus_b${n}`, connection, name: `Customer ${n}`, notes: 'x'.repeat(850), updated_at: '2026-06-01T00:00:00Z' } },
  });
  const signature = createHmac('sha256', KEY).update(`${id}.${timestamp}.${body}`).digest('base64');
  return {
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` },
    body,
  };
}

type CpuUsage = { user: number; system: number };
const cpuMicros = (before: CpuUsage, after: CpuUsage) => after.user - before.user + (after.system - before.system);

export async function load(server: ChildServer, path: (connection: number) => string, seconds: number): Promise<LoadResult & { maxMs: number }> {
  const { port } = server;
  const serverCpuBefore = (await server.ask('cpu')) as CpuUsage;
  const loadCpuBefore = process.cpuUsage();
  const latencies: number[] = [];
  let accepted = 0;
  let other = 0;
  let next = Number.parseInt(randomBytes(4).toString('hex'), 16) * 1000; // unique ids per phase
  const deadline = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  const worker = async (connection: number) => {
    const client = new RawHttpClient(port);
    try {
      while (Date.now() < deadline) {
        const { headers, body } = signedDelivery(next++, connection);
        const requestBytes = postRequest(path(connection), headers, body);
        const t0 = process.hrtime.bigint();
        const status = await client.send(requestBytes);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (status === 202) accepted += 1;
        else other += 1;
      }
    } finally {
      client.close();
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => worker(i)));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const loadCpu = cpuMicros(loadCpuBefore, process.cpuUsage());
  const serverCpu = cpuMicros(serverCpuBefore, (await server.ask('cpu')) as CpuUsage);
  latencies.sort((a, b) => a - b);
  const requests = accepted + other;
  return {
    accepted,
    other,
    perSecond: accepted / elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
    serverCpuUs: Math.round(serverCpu / requests),
    loadCpuUs: Math.round(loadCpu / requests),
  };
}

/**
 * Warms the server up with the same load for `warmupSeconds` (reported as `warmup`), then measures
 * it for `seconds`.
 */
export async function warmThenLoad(server: ChildServer, path: (connection: number) => string, seconds: number, warmupSeconds: number): Promise<LoadResult> {
  const warm = warmupSeconds > 0 ? await load(server, path, warmupSeconds) : undefined;
  const { maxMs: _max, ...measured } = await load(server, path, seconds);
  if (warm === undefined) return measured;
  return { ...measured, warmup: { seconds: warmupSeconds, accepted: warm.accepted, other: warm.other, perSecond: warm.perSecond, p50Ms: warm.p50Ms, p99Ms: warm.p99Ms, maxMs: warm.maxMs } };
}

export interface ChildServer {
  child: ChildProcess;
  port: number;
  /** Sends a command ('cpu', 'stats', 'stop') and resolves with the child's answer. */
  ask: (cmd: string) => Promise<any>;
}

/** Starts one server in a child process. */
export function startChild(mode: 'bare' | 'minimal' | 'minimalThreads' | 'minimalJournal' | 'host' | 'hostSingleThread'): Promise<ChildServer> {
  const child = fork(__filename, ['--serve', mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: process.env.BENCH_CHILD_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CHILD_PROFILE}`] : [] });
  const pending: Array<(value: any) => void> = [];
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`webhook bench server (${mode}) exited with ${code}`)));
    child.on('message', (message: any) => {
      if (message.port !== undefined) resolve({ child, port: message.port, ask: (cmd) => new Promise((done) => { pending.push(done); child.send({ cmd }); }) });
      else pending.shift()?.(message);
    });
  });
}

/** BENCH_MINIMAL_WRITERS: writer threads of the optional threaded minimal receiver; 0 (default) skips it. */
function minimalWriterThreads(): number {
  const value = Number(process.env.BENCH_MINIMAL_WRITERS ?? 0);
  if (!Number.isInteger(value) || value < 0 || value > 8) throw new Error(`BENCH_MINIMAL_WRITERS must be an integer from 0 to 8; got '${process.env.BENCH_MINIMAL_WRITERS}'.`);
  return value;
}

/** BENCH_JOURNAL_APPLIERS and BENCH_JOURNAL_BACKLOG, for the journal-first phase. */
function journalSettings(): { appliers: number; backlog: number } {
  const appliers = Number(process.env.BENCH_JOURNAL_APPLIERS ?? 2);
  const backlog = Number(process.env.BENCH_JOURNAL_BACKLOG ?? 500);
  if (!Number.isInteger(appliers) || appliers < 1 || appliers > 8) throw new Error(`BENCH_JOURNAL_APPLIERS must be an integer from 1 to 8; got '${process.env.BENCH_JOURNAL_APPLIERS}'.`);
  if (!Number.isInteger(backlog) || backlog < 1) throw new Error(`BENCH_JOURNAL_BACKLOG must be a positive integer; got '${process.env.BENCH_JOURNAL_BACKLOG}'.`);
  return { appliers, backlog };
}

/** BENCH_WEBHOOK_WARMUP_SECONDS: the warm-up before each measured phase; default 2, 0 skips it. */
function warmupSecondsFromEnv(): number {
  const value = Number(process.env.BENCH_WEBHOOK_WARMUP_SECONDS ?? 2);
  if (!Number.isFinite(value) || value < 0) throw new Error(`BENCH_WEBHOOK_WARMUP_SECONDS must be a number of seconds, 0 or more; got '${process.env.BENCH_WEBHOOK_WARMUP_SECONDS}'.`);
  return value;
}

export async function benchWebhookIngest(options: { seconds?: number; warmupSeconds?: number } = {}): Promise<WebhookIngestResult> {
  const seconds = options.seconds ?? Number(process.env.BENCH_WEBHOOK_SECONDS ?? 5);
  const warmupSeconds = options.warmupSeconds ?? warmupSecondsFromEnv();
  const run = (server: ChildServer, path: (connection: number) => string) => warmThenLoad(server, path, seconds, warmupSeconds);
  const writerThreads = minimalWriterThreads();
  const bareServer = await startChild('bare');
  const bare = await run(bareServer, () => '/hook');
  bareServer.child.kill('SIGTERM');
  const minimalServer = await startChild('minimal');
  const minimalLoad = await run(minimalServer, (c) => `/api/webhooks/sandbox/bench-${c}`);
  const minimal = { ...minimalLoad, receiptToStoredP99Ms: (await minimalServer.ask('stats')).p99Ms as number };
  await minimalServer.ask('stop');
  let minimalOnWriterThreads: WebhookIngestResult['minimalOnWriterThreads'];
  if (writerThreads > 0) {
    const threadedServer = await startChild('minimalThreads');
    const threadedLoad = await run(threadedServer, (c) => `/api/webhooks/sandbox/bench-${c}`);
    minimalOnWriterThreads = { ...threadedLoad, writerThreads, receiptToStoredP99Ms: (await threadedServer.ask('stats')).p99Ms as number };
    await threadedServer.ask('stop');
  }
  const journalServer = await startChild('minimalJournal');
  const journalLoad = await run(journalServer, (c) => `/api/webhooks/sandbox/bench-${c}`);
  const minimalJournal = { ...journalLoad, ...journalSettings(), receiptToStoredP99Ms: (await journalServer.ask('stats')).p99Ms as number };
  await journalServer.ask('stop');
  const hostServer = await startChild('host');
  let result: WebhookIngestResult;
  try {
    const host = await run(hostServer, (c) => `/api/webhooks/sandbox/bench-${c}`);
    const receiptToStored = await hostServer.ask('stats');
    result = { bare, minimal, minimalOnWriterThreads, minimalJournal, host, receiptToStored };
  } finally {
    await hostServer.ask('stop');
  }
  if (process.env.BENCH_HOST_SINGLE_THREAD === '1') {
    const singleServer = await startChild('hostSingleThread');
    try {
      const single = await run(singleServer, (c) => `/api/webhooks/sandbox/bench-${c}`);
      result.hostSingleThread = { ...single, receiptToStored: await singleServer.ask('stats') };
    } finally {
      await singleServer.ask('stop');
    }
  }
  return result;
}

// ------------------------------------------------------------------ the child: one server

async function serveBare(): Promise<void> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      Buffer.concat(chunks);
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"accepted":true}');
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  process.on('message', (message: { cmd: string }) => {
    if (message.cmd === 'cpu') process.send!(process.cpuUsage());
  });
  process.send!({ port: (server.address() as { port: number }).port });
}

async function serveMinimal(model: { writerThreads?: number; journal?: { appliers: number; backlog: number } }): Promise<void> {
  const { startMinimalDurableReceiver } = await import('./minimalDurableReceiver');
  const dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-bench-minimal-'));
  const receiver = await startMinimalDurableReceiver({ dataDir, key: KEY, apply: true, ...model });
  process.on('message', async (message: { cmd: string }) => {
    if (message.cmd === 'cpu') process.send!(process.cpuUsage());
    if (message.cmd === 'stats') process.send!({ p99Ms: percentile(await receiver.receiptToStored(), 99) });
    if (message.cmd === 'stop') {
      receiver.close();
      rmSync(dataDir, { recursive: true, force: true });
      process.send!({ stopped: true }, undefined, {}, () => process.exit(0));
    }
  });
  process.send!({ port: receiver.port });
}

async function serveHost(model: 'threaded' | 'single' = 'threaded'): Promise<void> {
  const { allFunctions, appSetup } = await import('../functions/all');
  const { useServices } = await import('../functions/services');
  const { startLocalHost } = await import('../local/host');
  const { createServices } = await import('../shared/composition');
  const { webhookIntakeFor } = await import('../shared/core/webhookIntake');
  const { createLocalPlatform } = await import('../shared/platform/local/localPlatform');
  const dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-bench-webhooks-'));
  // Receipt alone (BENCH_NO_WORKER) is measured on one thread with the journal off: a journal nobody
  // drains would fill and hold the senders back.
  const threaded = model === 'threaded' && !process.env.BENCH_NO_WORKER;
  const platform = createLocalPlatform({ dataDir, telemetrySink: new PassThrough().resume(), logLevel: 'warn', ...(threaded ? { webhookJournal: { drain: 'applier-thread' as const } } : {}) });
  const services = createServices(platform);
  useServices(services);
  await services.tenants.ensureTenant('bench', 'Bench');
  for (let c = 0; c < CONNECTIONS; c += 1) {
    // The provider is never called: events carry their records. The base URL only has to be valid.
    await services.connections.create({ tenantId: 'bench', id: `bench-${c}`, provider: 'sandbox', config: { baseUrl: 'http://127.0.0.1:9' }, entities: ['customers'] });
    await webhookIntakeFor(services).setSecrets('bench', `bench-${c}`, [SECRET]);
  }
  const functions = process.env.BENCH_NO_WORKER ? allFunctions.filter((f) => f.name !== 'inboundWorker') : allFunctions;
  const { PRIVATE_ALLOWED } = await import('../shared/http/destinationPolicy');
  const host = await startLocalHost({
    functions,
    setup: appSetup,
    queue: platform.queue,
    port: 0,
    enableTimers: false,
    maxConcurrentSessions: CONNECTIONS,
    log: () => {},
    ...(threaded
      ? { applierThread: { dataDir, telemetry: 'discard' as const, logLevel: 'warn' as const, destinationPolicy: PRIVATE_ALLOWED, journal: platform.journal } }
      : {}),
  });
  process.on('message', async (message: { cmd: string }) => {
    if (message.cmd === 'cpu') process.send!(process.cpuUsage());
    if (message.cmd === 'stats') process.send!(await receiptToStored(platform, services));
    if (message.cmd === 'stop') {
      await host.stop();
      await platform.close();
      rmSync(dataDir, { recursive: true, force: true });
      process.send!({ stopped: true });
      process.exit(0);
    }
  });
  process.send!({ port: Number(new URL(host.url).port) });
}

/** Waits until every enqueued delivery was applied, then joins deliveries to records by number. */
async function receiptToStored(platform: import('../shared/platform/local/localPlatform').LocalPlatform, _services: unknown) {
  // Without a worker (BENCH_NO_WORKER, for profiling the receipt alone) nothing will be applied.
  const deadline = process.env.BENCH_NO_WORKER ? 0 : Date.now() + 120_000;
  while (((platform.journal?.backlog ?? 0) > 0 || platform.queue.depth('sync-inbound').active > 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const received = new Map<string, number>();
  const stored = new Map<string, number>();
  for (let c = 0; c < CONNECTIONS; c += 1) {
    let cursor: string | undefined;
    do {
      const page = await platform.deliveries.list({ tenantId: 'bench', connectionId: `bench-${c}`, cursor, limit: 1000 });
      for (const d of page.deliveries) received.set(d.webhookId.slice('msg_'.length), Date.parse(d.receivedAt));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    let recordCursor: string | undefined;
    do {
      const page = await platform.records.list({ tenantId: 'bench', connectionId: `bench-${c}`, entity: 'customers', cursor: recordCursor, limit: 1000 });
      for (const r of page.records) stored.set(r.externalId.slice('cus_b'.length), Date.parse(r.lastModifiedAt));
      recordCursor = page.nextCursor ?? undefined;
    } while (recordCursor);
  }
  const latencies: number[] = [];
  for (const [n, at] of received) {
    const storedAt = stored.get(n);
    if (storedAt !== undefined) latencies.push(storedAt - at);
  }
  latencies.sort((a, b) => a - b);
  return { count: latencies.length, missing: received.size - latencies.length, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

if (process.argv[2] === '--serve') {
  ({
    bare: serveBare,
    minimal: () => serveMinimal({}),
    minimalThreads: () => serveMinimal({ writerThreads: minimalWriterThreads() }),
    minimalJournal: () => serveMinimal({ journal: journalSettings() }),
    host: () => serveHost('threaded'),
    hostSingleThread: () => serveHost('single'),
  }[process.argv[3]] ?? serveHost)().catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else if (require.main === module) {
  benchWebhookIngest().then((result) => console.log(JSON.stringify(result, null, 2)));
}
