import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createServices } from '../shared/composition';
import { webhookIntakeFor } from '../shared/core/webhookIntake';
import { intakeEntryOf } from '../shared/core/webhookIntake/intakeEntry';
import { deliveryIdFor, orderedDeliveryIdFor } from '../shared/core/webhookIntake/receiver';
import type { IntakeEntry } from '../shared/ports/deliveryIntake';
import { JournalIntake } from '../shared/platform/local/journalIntake';
import { createLocalPlatform, startJournalDrain } from '../shared/platform/local/localPlatform';
import { whenDurable } from '../shared/platform/local/turnCommit';
import { JournalAppender } from '../shared/platform/local/webhookJournal';

/**
 * The journal drain's direct apply alone (docs/webhook-intake.md "Direct apply"), the applier
 * thread's work without receipt or a load generator beside it: deliveries are journaled first,
 * then drained and applied in one thread, and the thread's CPU time per delivery is measured
 * (`/proc/thread-self/schedstat`; elsewhere the process's CPU time). The log already holds
 * `BENCH_APPLY_PREFILL` deliveries (default 40,000) applied the same way, as a host that has run a
 * while has; `BENCH_APPLY_DELIVERIES` (default 20,000) are measured. Each round measures both
 * delivery id schemes on fresh data folders, in alternating order: ids derived from the
 * provider's id (`deliveryIdFor`, random in the log's id index) and ids that begin with the time
 * of receipt (`orderedDeliveryIdFor`, what the local journal takes). `node dist/bench/webhookApply.js`;
 * prints one JSON line.
 */
const CONNECTIONS = 50;
const TENANT = 'bench';

type IdScheme = 'derived' | 'ordered';

interface ApplyMeasurement {
  scheme: IdScheme;
  deliveries: number;
  cpuUsPerDelivery: number;
  deliveriesPerSecond: number;
}

/** CPU time of the calling thread in microseconds (Linux), else of the process. */
function threadCpuUs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]) / 1000;
  } catch {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  }
}

/** A verified delivery as the receiver hands it on: ~1 KB customer event, one of 50 connections. */
function entryFor(n: number, scheme: IdScheme, receivedAtMs: number): IntakeEntry {
  const connectionId = `bench-${n % CONNECTIONS}`;
  const webhookId = `evt_${n.toString(36)}_${(n * 2654435761) % 4294967296}`;
  const deliveryId = scheme === 'ordered' ? orderedDeliveryIdFor(connectionId, webhookId, receivedAtMs) : deliveryIdFor(connectionId, webhookId);
  const receivedAt = new Date(receivedAtMs).toISOString();
  const body = JSON.stringify({
    id: webhookId,
    type: 'customers.updated',
    data: { entity: 'customers', record: { id: `cus_${n}`, name: `Customer ${n}`, notes: 'x'.repeat(850), updated_at: '2026-06-01T00:00:00Z' } },
  });
  return intakeEntryOf({
    deliveryId,
    tenantId: TENANT,
    connectionId,
    provider: 'sandbox',
    webhookId,
    receivedAt,
    eventType: 'customers.updated',
    headers: { 'webhook-id': webhookId, 'content-type': 'application/json' },
    body,
  });
}

async function measure(scheme: IdScheme, prefill: number, measured: number): Promise<ApplyMeasurement> {
  const dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-bench-apply-'));
  const platform = createLocalPlatform({ dataDir, telemetrySink: new PassThrough().resume(), logLevel: 'warn' });
  try {
    const services = createServices(platform);
    await services.tenants.ensureTenant(TENANT, 'Bench');
    for (let c = 0; c < CONNECTIONS; c += 1) {
      await services.connections.create({ tenantId: TENANT, id: `bench-${c}`, provider: 'sandbox', config: { baseUrl: 'http://127.0.0.1:9' }, entities: ['customers'], schedule: { enabled: false } });
    }
    const { applier } = webhookIntakeFor(services);
    const journalDir = join(dataDir, 'webhook-journal');
    const appender = new JournalAppender(journalDir);
    const journal = new JournalIntake(appender, platform.idempotency, { maxBacklog: prefill + measured + 1, paceMs: 0 });
    let next = 0;
    let clock = Date.parse('2026-11-24T12:00:00.000Z');
    let last: IntakeEntry | undefined;
    /** Journals `count` deliveries, then drains and applies them; the CPU time of the draining only. */
    const applyNext = async (count: number): Promise<{ cpuUs: number; ms: number }> => {
      const writes: Array<Promise<unknown>> = [];
      for (let i = 0; i < count; i += 1) {
        last = entryFor(next++, scheme, (clock += 0.2));
        writes.push(journal.write(last));
      }
      await Promise.all(writes);
      const cpu0 = threadCpuUs();
      const t0 = performance.now();
      const drain = startJournalDrain(platform, journalDir, (position) => journal.drained(position), (taken, log, batch) => applier.applyTaken(taken, log, batch));
      try {
        const deadline = Date.now() + 120_000;
        while (journal.backlog > 0) {
          if (Date.now() > deadline) throw new Error(`The drain left ${journal.backlog} of ${count} deliveries after 120 s.`);
          await new Promise((done) => setImmediate(done));
        }
        await whenDurable(platform.db);
        return { cpuUs: threadCpuUs() - cpu0, ms: performance.now() - t0 };
      } finally {
        await drain.stop();
      }
    };
    try {
      if (prefill > 0) await applyNext(prefill);
      const { cpuUs, ms } = await applyNext(measured);
      // Applied here, not handed to a worker: the figure is the direct apply's.
      const logged = last && (await platform.deliveries.get(last.delivery.id));
      if (logged?.status !== 'applied') throw new Error(`The last delivery was not applied by the drain (status ${logged?.status ?? 'none'}).`);
      return { scheme, deliveries: measured, cpuUsPerDelivery: Math.round(cpuUs / measured), deliveriesPerSecond: Math.round((measured / ms) * 1000) };
    } finally {
      journal.close();
      appender.close();
    }
  } finally {
    await platform.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function benchWebhookApply(options: { prefill?: number; deliveries?: number; rounds?: number } = {}): Promise<{ rounds: ApplyMeasurement[][]; prefill: number }> {
  const prefill = options.prefill ?? Number(process.env.BENCH_APPLY_PREFILL ?? 40_000);
  const deliveries = options.deliveries ?? Number(process.env.BENCH_APPLY_DELIVERIES ?? 20_000);
  const rounds = options.rounds ?? Number(process.env.BENCH_APPLY_ROUNDS ?? 2);
  const results: ApplyMeasurement[][] = [];
  for (let r = 0; r < rounds; r += 1) {
    const order: IdScheme[] = r % 2 === 0 ? ['derived', 'ordered'] : ['ordered', 'derived'];
    const round: ApplyMeasurement[] = [];
    for (const scheme of order) round.push(await measure(scheme, prefill, deliveries));
    results.push(round);
  }
  return { rounds: results, prefill };
}

if (require.main === module) {
  benchWebhookApply()
    .then((result) => console.log(JSON.stringify(result)))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
