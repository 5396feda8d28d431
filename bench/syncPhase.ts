import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { allFunctions, appSetup } from '../functions/all';
import { useServices } from '../functions/services';
import { startLocalHost } from '../local/host';
import { createServices } from '../shared/composition';
import { Agent } from 'node:https';
import type { CosmosDatabase } from '../shared/platform/azure/cosmos/cosmosDatabase';
import { createLocalPlatform } from '../shared/platform/local/localPlatform';
import { PRIVATE_ALLOWED } from '../shared/http/destinationPolicy';
import type { Platform } from '../shared/ports/platform';

/**
 * One benchmark phase in its own process, so that its peak RSS is SyncBridge's alone: the local
 * host on the embedded platform syncs the sandbox (another process) in full, then again unchanged.
 * Prints one JSON line with the measurements.
 */
async function main(): Promise<void> {
  const sandboxUrl = process.env.SANDBOX_URL!;
  const dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-bench-'));
  const sink = new PassThrough();
  sink.resume(); // telemetry is not the subject here; drain it
  // The inbound worker on the local host's applier thread, as npm start runs it by default
  // (docs/local-host.md); BENCH_APPLIER_THREAD=0 runs it on the host's one thread. Embedded
  // platform only: the thread builds its own local platform, so the Cosmos phase runs on one thread.
  const threaded = process.env.BENCH_APPLIER_THREAD !== '0' && !process.env.BENCH_COSMOS_URL;
  const local = createLocalPlatform({ dataDir, telemetrySink: sink, logLevel: 'warn', ...(threaded ? { webhookJournal: { drain: 'applier-thread' as const } } : {}) });
  // BENCH_COSMOS_URL: the stores on Cosmos DB (the loopback server of bench/cosmosServerMain.ts);
  // the local host still receives from the local broker, and secrets and telemetry stay local.
  let cosmos: CosmosDatabase | undefined;
  let platform: Platform = local;
  if (process.env.BENCH_COSMOS_URL) {
    // Imported only for this phase, so the embedded phase's peak RSS carries no Azure SDK.
    const { createAzurePlatform } = await import('../shared/platform/azure/azurePlatform');
    const { openCosmosDatabase } = await import('../shared/platform/azure/cosmos/cosmosDatabase');
    cosmos = await openCosmosDatabase({ endpoint: process.env.BENCH_COSMOS_URL, key: 'bench-key', agent: new Agent({ rejectUnauthorized: false, keepAlive: true }), createIfMissing: true, databaseName: 'bench' });
    platform = createAzurePlatform({ cosmos, queue: local.queue, secrets: local.secrets, telemetry: local.telemetry });
  }
  const services = createServices(platform);
  useServices(services);
  const host = await startLocalHost({
    functions: allFunctions,
    setup: appSetup,
    queue: local.queue,
    port: 0,
    enableTimers: false,
    log: () => undefined,
    ...(threaded ? { applierThread: { dataDir, telemetry: 'discard' as const, logLevel: 'warn' as const, destinationPolicy: PRIVATE_ALLOWED, journal: local.journal } } : {}),
  });
  await services.tenants.ensureTenant('bench', 'Bench');
  const connection = await services.connections.create({
    tenantId: 'bench', id: 'bench', provider: 'sandbox', config: { baseUrl: sandboxUrl, pageSize: 1000 },
    credentials: { type: 'apiKey', apiKey: process.env.SANDBOX_API_KEY ?? 'sandbox-api-key' },
  });

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);

  // The benchmark's own progress polls are run reads too: counted, and taken out of the charges.
  let benchPolls = 0;
  const ownReadsRemoved = (charges: ReturnType<CosmosDatabase['charges']['snapshot']> | undefined) => {
    if (charges?.['runs.get']) charges['runs.get'].requests -= benchPolls;
    benchPolls = 0;
    return charges;
  };
  const syncOnce = async () => {
    const started = process.hrtime.bigint();
    const run = await services.runs.startRun({ connection, mode: 'full', trigger: 'manual' });
    for (;;) {
      benchPolls += 1;
      const current = await platform.runs.get(run.id);
      if (current?.finishedAt) {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const counters = current.entities.reduce((sum, e) => {
          for (const k of Object.keys(sum) as Array<keyof typeof sum>) sum[k] += e.counters[k];
          return sum;
        }, { fetched: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, failed: 0 });
        return { state: current.state, seconds, counters };
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  cosmos?.charges.reset();
  const full = await syncOnce();
  const fullCharges = ownReadsRemoved(cosmos?.charges.snapshot());
  cosmos?.charges.reset();
  const resyncStartedAt = platform.clock.now().toISOString();
  const resync = await syncOnce();
  const resyncCharges = ownReadsRemoved(cosmos?.charges.snapshot());
  // Record writes during the re-sync, read from the store itself rather than from the counters.
  let writes = 0;
  for (const entity of connection.entities) {
    const page = await platform.records.list({ tenantId: 'bench', connectionId: 'bench', entity: entity.name, modifiedAfter: resyncStartedAt, limit: 1000 });
    writes += page.records.length;
  }
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
  await host.stop();
  cosmos?.dispose();
  await local.close();
  rmSync(dataDir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify({ full, resync, resyncRecordWrites: writes, peakRssBytes: peakRss, cosmos: cosmos ? { full: fullCharges, resync: resyncCharges } : undefined })}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
