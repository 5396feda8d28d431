import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { allFunctions } from '../functions/all';
import { useServices } from '../functions/services';
import { startLocalHost } from '../local/host';
import { createServices } from '../shared/composition';
import { createLocalPlatform } from '../shared/platform/local/localPlatform';

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
  const platform = createLocalPlatform({ dataDir, telemetrySink: sink, logLevel: 'warn' });
  const services = createServices(platform);
  useServices(services);
  const host = await startLocalHost({ functions: allFunctions, queue: platform.queue, port: 0, enableTimers: false, log: () => undefined });
  await services.tenants.ensureTenant('bench', 'Bench');
  const connection = await services.connections.create({
    tenantId: 'bench', id: 'bench', provider: 'sandbox', config: { baseUrl: sandboxUrl, pageSize: 1000 },
    credentials: { type: 'apiKey', apiKey: process.env.SANDBOX_API_KEY ?? 'sandbox-api-key' },
  });

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);

  const syncOnce = async () => {
    const started = process.hrtime.bigint();
    const run = await services.runs.startRun({ connection, mode: 'full', trigger: 'manual' });
    for (;;) {
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

  const full = await syncOnce();
  const resyncStartedAt = platform.clock.now().toISOString();
  const resync = await syncOnce();
  // Record writes during the re-sync, read from the store itself rather than from the counters.
  let writes = 0;
  for (const entity of connection.entities) {
    const page = await platform.records.list({ tenantId: 'bench', connectionId: 'bench', entity: entity.name, modifiedAfter: resyncStartedAt, limit: 1000 });
    writes += page.records.length;
  }
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
  await host.stop();
  await platform.close();
  rmSync(dataDir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify({ full, resync, resyncRecordWrites: writes, peakRssBytes: peakRss })}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
