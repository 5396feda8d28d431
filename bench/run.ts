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

async function startSandbox(records: number): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [resolve(__dirname, '../sandbox/main.js')], {
    env: { ...process.env, SANDBOX_PORT: '0', SANDBOX_RECORDS: String(records), SANDBOX_RATE_LIMIT: '1000000', SANDBOX_API_KEY: API_KEY },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((done, fail) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (match) done(match[1]);
    });
    child.once('exit', (code) => fail(new Error(`sandbox exited with ${code}: ${out}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

function row(name: string, value: string, note = ''): string {
  return `${name.padEnd(46)} ${value.padStart(16)}  ${note}`;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const perEntity = Number(process.env.BENCH_RECORDS ?? 100_000);
  const total = perEntity * ENTITIES.length;
  console.log(`SyncBridge benchmark: ${fmt(perEntity)} records per entity × ${ENTITIES.length} entities = ${fmt(total)} records (~1 KB each); node ${process.version}, ${require('node:os').cpus().length} cores\n`);
  const sandbox = await startSandbox(perEntity);
  try {
    const ceilings = await measureCeilings(sandbox.url, API_KEY, ENTITIES);
    const { stdout } = await promisify(execFile)(process.execPath, [resolve(__dirname, 'syncPhase.js')], {
      env: { ...process.env, SANDBOX_URL: sandbox.url, SANDBOX_API_KEY: API_KEY },
      maxBuffer: 1 << 20,
    });
    const sync = JSON.parse(stdout.trim().split('\n').pop()!) as {
      full: { state: string; seconds: number; counters: Record<string, number> };
      resync: { state: string; seconds: number; counters: Record<string, number> };
      resyncRecordWrites: number;
      peakRssBytes: number;
    };
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
    await printWebhookIngest();
  } finally {
    sandbox.stop();
  }
}

/** Webhook ingest beside a bare node:http server, both measured now (bench/webhookIngest.ts). */
async function printWebhookIngest(): Promise<void> {
  const { benchWebhookIngest } = await import('./webhookIngest');
  const w = await benchWebhookIngest();
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  console.log('\nWebhook ingest, 50 concurrent keep-alive clients, ~1 KB signed events:');
  console.log([
    row('ceiling: bare node:http, read body + 202 (req/s)', fmt(w.bare.perSecond), `p50 ${ms(w.bare.p50Ms)}, p99 ${ms(w.bare.p99Ms)}`),
    row('webhooks verified + durably enqueued (req/s)', fmt(w.host.perSecond), `${(w.host.perSecond / w.bare.perSecond).toFixed(2)}× bare; target ≥ 5,000; ${fmt(w.host.other)} non-202`),
    row('webhook receipt latency p50 / p99', `${ms(w.host.p50Ms)} / ${ms(w.host.p99Ms)}`, 'target p99 < 20 ms'),
    row('receipt-to-stored latency p50 / p99', `${ms(w.receiptToStored.p50Ms)} / ${ms(w.receiptToStored.p99Ms)}`, `target p99 < 1 s; ${fmt(w.receiptToStored.count)} records`),
  ].join('\n'));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
