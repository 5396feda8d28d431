import { spawn, execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { measureCeilings } from './ceilings';

/**
 * `npm run bench`: SyncBridge's throughput beside ceilings measured in the same run.
 * BENCH_RECORDS sets records per entity (default 100,000, five entities).
 */
const ENTITIES = ['customers', 'products', 'orders', 'inventory', 'payments'];
const API_KEY = 'sandbox-api-key';

/** A child process that prints `listening on <url>`; resolves with the URL. */
async function startListening(script: string, env: NodeJS.ProcessEnv): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [resolve(__dirname, script)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((done, fail) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (https?:\/\/[^\s]+)/.exec(out);
      if (match) done(match[1]);
    });
    child.once('exit', (code) => fail(new Error(`${script} exited with ${code}: ${out}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

function startSandbox(records: number): Promise<{ url: string; stop: () => void }> {
  return startListening('../sandbox/main.js', { SANDBOX_PORT: '0', SANDBOX_RECORDS: String(records), SANDBOX_RATE_LIMIT: '1000000', SANDBOX_API_KEY: API_KEY });
}

type Charges = Record<string, { requests: number; ru: number }>;
interface SyncPhaseResult {
  full: { state: string; seconds: number; counters: Record<string, number> };
  resync: { state: string; seconds: number; counters: Record<string, number> };
  resyncRecordWrites: number;
  peakRssBytes: number;
  cosmos?: { full: Charges; resync: Charges };
}

/** bench/syncPhase.ts in its own process (its peak RSS is SyncBridge's alone). */
async function runSyncPhase(env: NodeJS.ProcessEnv): Promise<SyncPhaseResult> {
  const { stdout } = await promisify(execFile)(process.execPath, [resolve(__dirname, 'syncPhase.js')], { env: { ...process.env, ...env }, maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as SyncPhaseResult;
}

function row(name: string, value: string, note = ''): string {
  return `${name.padEnd(46)} ${value.padStart(16)}  ${note}`;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  // BENCH_ONLY=azure: just the Azure-vs-embedded comparison (minutes instead of the whole run).
  if (process.env.BENCH_ONLY === 'azure') return printAzureComparison();
  const perEntity = Number(process.env.BENCH_RECORDS ?? 100_000);
  const total = perEntity * ENTITIES.length;
  console.log(`SyncBridge benchmark: ${fmt(perEntity)} records per entity × ${ENTITIES.length} entities = ${fmt(total)} records (~1 KB each); node ${process.version}, ${require('node:os').cpus().length} cores\n`);
  const sandbox = await startSandbox(perEntity);
  try {
    const ceilings = await measureCeilings(sandbox.url, API_KEY, ENTITIES);
    // As npm start runs it: the inbound worker on the applier thread (BENCH_APPLIER_THREAD=0: on one thread).
    const sync = await runSyncPhase({ SANDBOX_URL: sandbox.url, SANDBOX_API_KEY: API_KEY });
    const fullRate = sync.full.counters.fetched / sync.full.seconds;
    const resyncRate = sync.resync.counters.fetched / sync.resync.seconds;
    const ceiling = Math.min(ceilings.fetchPerSecond, ceilings.upsertPerSecond);
    const lines = [
      row('ceiling: raw paged fetch (records/s)', fmt(ceilings.fetchPerSecond)),
      row('ceiling: raw SQLite upsert (rows/s)', fmt(ceilings.upsertPerSecond)),
      row('full sync (records/s)', fmt(fullRate), `${(fullRate / ceilings.fetchPerSecond).toFixed(2)}× fetch ceiling; target ≥ 20,000; ${sync.full.state}, ${fmt(sync.full.counters.created)} created in ${sync.full.seconds.toFixed(1)} s`),
      row('unchanged re-sync (records/s)', fmt(resyncRate), `${(resyncRate / ceilings.fetchPerSecond).toFixed(2)}× fetch ceiling; target ≥ 40,000; ${sync.resync.state}, ${fmt(sync.resync.counters.unchanged)} unchanged in ${sync.resync.seconds.toFixed(1)} s`),
      row('record writes during unchanged re-sync', fmt(sync.resyncRecordWrites), 'target 0'),
      row('peak RSS of the SyncBridge process (MB)', (sync.peakRssBytes / 1048576).toFixed(0), 'target < 300'),
      row('full sync vs the slower ceiling', `${(fullRate / ceiling).toFixed(2)}×`),
    ];
    console.log(lines.join('\n'));
    try {
      const { benchWebhookVerify } = require('./webhookVerify') as { benchWebhookVerify?: () => Promise<Array<{ scheme: string; verificationsPerSecond: number }>> };
      if (benchWebhookVerify) {
        console.log('\nWebhook signature verification (verifications/s, one core):');
        for (const r of await benchWebhookVerify()) console.log(row(`  ${r.scheme}`, fmt(r.verificationsPerSecond)));
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    }
    console.log('\nTelemetry masking per call vs registered secret values (bench/telemetryMasking.ts):');
    for (const r of (await import('./telemetryMasking')).benchTelemetryMasking()) {
      console.log(row(`  ${fmt(r.registeredValues)} values: dependency() / exception()`, `${r.dependencyMs.toFixed(3)} / ${r.exceptionMs.toFixed(3)} ms`));
    }
    await printWebhookIngest();
    await printWebhookApply();
  } finally {
    sandbox.stop();
  }
  await printAzureComparison();
}

/**
 * The same full sync and unchanged re-sync on the Azure implementations of the stores (Cosmos DB
 * through the real SDK to the loopback server, in its own process) beside the embedded platform, on
 * a smaller data set: the loopback server keeps documents in memory and scans them for queries.
 * Request counts per record come from the SDK's responses; the loopback server reports 1 RU for
 * every request, so RU figures for Azure are estimates (docs/cosmos.md), not measurements.
 */
async function printAzureComparison(): Promise<void> {
  const perEntity = Number(process.env.BENCH_AZURE_RECORDS ?? 2_000);
  const total = perEntity * ENTITIES.length;
  const sandbox = await startSandbox(perEntity);
  const cosmosServer = await startListening('cosmosServerMain.js', {});
  try {
    // On one thread, as the Cosmos phase runs (the applier thread builds a local platform).
    const embedded = await runSyncPhase({ SANDBOX_URL: sandbox.url, SANDBOX_API_KEY: API_KEY, BENCH_APPLIER_THREAD: '0' });
    const azure = await runSyncPhase({ SANDBOX_URL: sandbox.url, SANDBOX_API_KEY: API_KEY, BENCH_COSMOS_URL: cosmosServer.url });
    const rate = (r: SyncPhaseResult['full']) => r.counters.fetched / r.seconds;
    console.log(`\nAzure implementations (Cosmos DB stores via @azure/cosmos → loopback server) vs embedded, ${fmt(total)} records:`);
    console.log([
      row('embedded full sync (records/s)', fmt(rate(embedded.full)), `${embedded.full.state}`),
      row('Cosmos full sync (records/s)', fmt(rate(azure.full)), `${(rate(azure.full) / rate(embedded.full)).toFixed(2)}× embedded; ${azure.full.state}, ${fmt(azure.full.counters.created)} created`),
      row('embedded unchanged re-sync (records/s)', fmt(rate(embedded.resync)), ''),
      row('Cosmos unchanged re-sync (records/s)', fmt(rate(azure.resync)), `${(rate(azure.resync) / rate(embedded.resync)).toFixed(2)}× embedded; ${fmt(azure.resyncRecordWrites)} record writes`),
    ].join('\n'));
    for (const [phase, charges] of [['full sync (new records)', azure.cosmos!.full], ['unchanged re-sync', azure.cosmos!.resync]] as const) {
      const records = phase.startsWith('full') ? azure.full.counters.fetched : azure.resync.counters.fetched;
      const requests = Object.values(charges).reduce((n, c) => n + c.requests, 0);
      console.log(`  Cosmos requests in the ${phase}: ${fmt(requests)} (${(requests / records).toFixed(4)} per record)`);
      for (const [operation, c] of Object.entries(charges).sort((a, b) => b[1].requests - a[1].requests)) {
        console.log(`    ${operation.padEnd(24)} ${fmt(c.requests).padStart(8)} requests  ${(c.requests / records).toFixed(4)} per record`);
      }
    }
  } finally {
    sandbox.stop();
    cosmosServer.stop();
  }
}

/** Webhook ingest beside a bare node:http server, both measured now (bench/webhookIngest.ts). */
async function printWebhookIngest(): Promise<void> {
  const { benchWebhookIngest } = await import('./webhookIngest');
  const w = await benchWebhookIngest();
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  const warm = w.host.warmup;
  console.log(`\nWebhook ingest, 50 concurrent keep-alive clients, ~1 KB signed events${warm ? `, measured after ${warm.seconds} s of warm-up` : ''}:`);
  const threaded = w.minimalOnWriterThreads;
  const journal = w.minimalJournal;
  console.log([
    row('ceiling: bare node:http, read body + 202 (req/s)', fmt(w.bare.perSecond), `p50 ${ms(w.bare.p50Ms)}, p99 ${ms(w.bare.p99Ms)}`),
    row('ceiling: minimal durable receiver (req/s)', fmt(w.minimal.perSecond), `verify + enqueue + apply, no framework; p99 ${ms(w.minimal.p99Ms)}; CPU ${w.minimal.serverCpuUs} / ${w.minimal.loadCpuUs} µs (bench/minimalDurableReceiver.ts)`),
    ...(threaded ? [row(`  the same, SQLite on ${threaded.writerThreads} writer thread(s) (req/s)`, fmt(threaded.perSecond), `p99 ${ms(threaded.p99Ms)}; CPU ${threaded.serverCpuUs} / ${threaded.loadCpuUs} µs (BENCH_MINIMAL_WRITERS)`)] : []),
    row('ceiling: minimal receiver, journal first (req/s)', fmt(journal.perSecond), `journal file as queue, ${journal.appliers} applier threads, backlog ${journal.backlog}; p99 ${ms(journal.p99Ms)}; receipt-to-stored p99 ${ms(journal.receiptToStoredP99Ms)}; CPU ${journal.serverCpuUs} / ${journal.loadCpuUs} µs`),
    row('webhooks verified + durably enqueued (req/s)', fmt(w.host.perSecond), `${(w.host.perSecond / w.bare.perSecond).toFixed(2)}× bare, ${(w.host.perSecond / w.minimal.perSecond).toFixed(2)}× minimal, ${(w.host.perSecond / journal.perSecond).toFixed(2)}× journal first; target ≥ 5,000; ${fmt(w.host.other)} non-202`),
    row('webhook receipt latency p50 / p99', `${ms(w.host.p50Ms)} / ${ms(w.host.p99Ms)}`, 'target p99 < 20 ms'),
    ...(warm ? [row(`  its warm-up (first ${warm.seconds} s): req/s, p50 / p99 / max`, fmt(warm.perSecond), `${ms(warm.p50Ms)} / ${ms(warm.p99Ms)} / ${ms(warm.maxMs)}`)] : []),
    row('receipt-to-stored latency p50 / p99', `${ms(w.receiptToStored.p50Ms)} / ${ms(w.receiptToStored.p99Ms)}`, `target p99 < 1 s; ${fmt(w.receiptToStored.count)} records (warm-up included)`),
    row('CPU per request: server / load generator (µs)', `${w.host.serverCpuUs} / ${w.host.loadCpuUs}`, `bare: ${w.bare.serverCpuUs} / ${w.bare.loadCpuUs}; 2 cores at 5,000/s give 400 in all`),
  ].join('\n'));
}

/** The applier thread's work alone, per delivery, with each delivery id scheme (bench/webhookApply.ts). */
async function printWebhookApply(): Promise<void> {
  const { benchWebhookApply } = await import('./webhookApply');
  const { rounds, prefill } = await benchWebhookApply();
  const of = (scheme: string) => rounds.map((round) => round.find((m) => m.scheme === scheme)!);
  const span = (values: number[]) => (Math.min(...values) === Math.max(...values) ? fmt(values[0]) : `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`);
  console.log(`\nWebhook direct apply alone (one thread, no receipt beside it), ${fmt(rounds[0][0].deliveries)} deliveries after ${fmt(prefill)}, ${rounds.length} alternating rounds:`);
  for (const [scheme, label] of [['ordered', 'ids beginning with receipt time (the journal\'s)'], ['derived', 'ids derived from the provider\'s (random in the index)']] as const) {
    const runs = of(scheme);
    console.log(row(`  ${label}`, `${span(runs.map((m) => m.cpuUsPerDelivery))} µs`, `CPU per delivery; ${span(runs.map((m) => m.deliveriesPerSecond))} deliveries/s`));
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
