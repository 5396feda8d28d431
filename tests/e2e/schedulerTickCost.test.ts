import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createServices, type Services } from '../../shared/composition';
import { createLocalPlatform, type LocalPlatform } from '../../shared/platform/local/localPlatform';
import { ManualClock } from '../local/helpers';

/**
 * What one scheduler tick costs in store calls, counted on the real SQLite stores (a counter in
 * front of each store method; nothing stands in for a store). The tick runs every minute over
 * every connection, so its cost per connection is what grows with the number of tenants: a
 * regression shows here as a changed count (docs/sync-engine.md, "What a tick costs").
 */
const STORES = ['connections', 'runs', 'tenants', 'leases', 'records', 'deliveries', 'outbox', 'idempotency', 'conflicts', 'secrets'] as const;

/**
 * Counts calls of every method of the platform's stores, by `store.method`. A call a store makes
 * to itself while it runs (a private helper) is not a round trip and is not counted.
 */
function countStoreCalls(platform: LocalPlatform): { counts: Record<string, number>; total: () => number } {
  const counts: Record<string, number> = {};
  for (const name of STORES) {
    const store = (platform as unknown as Record<string, object | undefined>)[name];
    if (!store) continue;
    const methods = new Set<string>();
    for (let proto = Object.getPrototypeOf(store); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
      for (const key of Object.getOwnPropertyNames(proto)) if (key !== 'constructor' && typeof (store as Record<string, unknown>)[key] === 'function') methods.add(key);
    }
    let inside = false;
    for (const method of methods) {
      const target = store as Record<string, (...args: unknown[]) => unknown>;
      const original = target[method].bind(store);
      target[method] = (...args: unknown[]) => {
        if (inside) return original(...args);
        counts[`${name}.${method}`] = (counts[`${name}.${method}`] ?? 0) + 1;
        inside = true;
        try {
          return original(...args);
        } finally {
          inside = false;
        }
      };
    }
  }
  return { counts, total: () => Object.values(counts).reduce((a, b) => a + b, 0) };
}

describe('the cost of a scheduler tick in store calls', () => {
  let dataDir: string;
  let platform: LocalPlatform;
  let services: Services;
  const clock = new ManualClock(new Date('2030-01-01T00:30:00.000Z'));

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-tick-'));
    platform = createLocalPlatform({ dataDir, clock, telemetrySink: new PassThrough() });
    services = createServices(platform);
    // 4 tenants of 10 hourly connections each (created now, so not due before 01:00).
    for (const tenant of ['ta', 'tb', 'tc', 'td']) {
      await services.tenants.ensureTenant(tenant, `Tenant ${tenant}`);
      for (let i = 0; i < 10; i += 1) {
        await services.connections.create({
          tenantId: tenant, id: `${tenant}-${String(i).padStart(2, '0')}`, provider: 'sandbox', config: { baseUrl: 'http://127.0.0.1:9' },
          entities: ['customers'], schedule: { cron: '0 0 * * * *', timeZone: 'UTC', mode: 'incremental' },
        });
      }
    }
  });

  afterAll(async () => {
    await platform?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Makes the connection due: its schedule last acted on two hours ago. */
  async function makeDue(id: string): Promise<void> {
    const connection = (await platform.connections.get(id))!;
    await platform.connections.update({ ...connection, lastScheduledAt: new Date(clock.now().getTime() - 2 * 3600_000).toISOString() });
  }

  let calls: ReturnType<typeof countStoreCalls>;
  beforeAll(() => {
    calls = countStoreCalls(platform);
  });
  beforeEach(() => {
    for (const key of Object.keys(calls.counts)) delete calls.counts[key];
  });

  test('none due: one page of connections, and per tenant one read of its running runs (watchdog) and one of its queued runs', async () => {
    const tick = await services.scheduler.tick();
    expect(tick).toMatchObject({ considered: 40, started: [], waiting: [], skipped: [], failed: [] });
    expect(calls.counts).toEqual({
      'connections.listAll': 2, // a page of 40, then the empty page that ends the scan
      'runs.listRunning': 4,
      'runs.listQueued': 4, // nothing queued: the tenant (its run limit) is not read
    });
    expect(calls.total()).toBe(10);
  });

  test('two due in two tenants: eleven calls per start, and no tick-end promotion of the tenants a start promoted', async () => {
    await makeDue('ta-03');
    await makeDue('tb-07');
    for (const key of Object.keys(calls.counts)) delete calls.counts[key];
    const tick = await services.scheduler.tick();
    expect(tick.started).toHaveLength(2);
    expect(calls.counts).toEqual({
      'connections.listAll': 2,
      'runs.listOpenByConnection': 4, // per start: the tick's check before claiming, and startRun's under its lease
      'connections.get': 2, // the claim re-reads the connection…
      'connections.update': 2, // …and writes lastScheduledAt
      'leases.acquire': 2,
      'runs.create': 2,
      'leases.release': 2,
      'runs.listQueued': 4, // the starts' promotions (ta, tb), the tick-end promotions of tc and td
      'tenants.getTenant': 2, // the starts' promotions: the new run waits, so the limit is read
      'runs.tryStart': 2,
      'runs.get': 2, // startRun returns the run as promoted
      'runs.listRunning': 4,
    });
    expect(calls.total()).toBe(30);
  });
});
