import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox, type RunningSandbox } from '../../sandbox/server';
import type { Services } from '../../shared/composition';
import { deliverPush } from './helpers';

/**
 * The push retry schedule is set by app settings (SYNCBRIDGE_PUSH_RETRY_*), read where the
 * function app builds its services (functions/services.ts), and the outbound worker retries on it:
 * a provider refusing every write with 503 gets the delays and the attempt budget the settings say.
 */
describe('push retry schedule from app settings', () => {
  const saved = { ...process.env };
  let sandbox: RunningSandbox;
  let dataDir: string;
  let services: Services;
  // From the same module registry as the services: an error class of another copy is not recognised.
  let twoWayFor: typeof import('../../shared/core/outbound/registry').twoWayFor;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, recordsPerEntity: 5 });
    dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-push-retry-'));
    Object.assign(process.env, {
      SYNCBRIDGE_PLATFORM: 'local',
      SYNCBRIDGE_DATA_DIR: dataDir,
      SYNCBRIDGE_PUSH_RETRY_INITIAL_MS: '4000',
      SYNCBRIDGE_PUSH_RETRY_MULTIPLIER: '3',
      SYNCBRIDGE_PUSH_RETRY_MAX_DELAY_MS: '60000',
      SYNCBRIDGE_PUSH_RETRY_MAX_ATTEMPTS: '3',
    });
    let fresh!: typeof import('../../functions/services');
    jest.isolateModules(() => {
      fresh = jest.requireActual('../../functions/services');
      ({ twoWayFor } = jest.requireActual('../../shared/core/outbound/registry'));
    });
    services = await fresh.getServices();
    await services.tenants.ensureTenant('t1', 'Tenant one');
  });

  afterAll(async () => {
    process.env = { ...saved };
    await services.platform.close();
    await sandbox.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a refused push is retried after the configured delays and dead-letters after the configured attempts', async () => {
    await services.connections.create({
      tenantId: 't1',
      id: 'retrying',
      provider: 'sandbox',
      config: { baseUrl: sandbox.url },
      credentials: { type: 'apiKey', apiKey: sandbox.apiKey },
      entities: [{ name: 'customers', direction: 'both' }],
    });
    const faults = await fetch(`${sandbox.url}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rejectWrites: { status: 503, times: 10 } }) });
    expect(faults.status).toBe(200);
    const { changes, outbound } = twoWayFor(services);
    const record = await changes.create({ tenantId: 't1', connectionId: 'retrying', entity: 'customers' }, { name: 'Retried Customer', email: 'retried@example.com' });
    const outboxId = record.pendingPush!.outboxId;

    // Equal jitter: retry n waits between half and all of min(max, initial × multiplier^(n-1)).
    const delays: number[] = [];
    for (const expected of ['retry_scheduled', 'retry_scheduled'] as const) {
      const before = Date.now();
      expect(await deliverPush(services.platform.outbox, outbound, record)).toBe(expected);
      delays.push(Date.parse((await services.platform.outbox.get(outboxId))!.nextAttemptAt!) - before);
    }
    expect(delays[0]).toBeGreaterThanOrEqual(2000 - 50);
    expect(delays[0]).toBeLessThanOrEqual(4000 + 50);
    expect(delays[1]).toBeGreaterThanOrEqual(6000 - 50);
    expect(delays[1]).toBeLessThanOrEqual(12_000 + 50);

    expect(await deliverPush(services.platform.outbox, outbound, record)).toBe('dead');
    const dead = (await services.platform.outbox.get(outboxId))!;
    expect(dead.attempts).toBe(3);
    expect(dead.lastError).toContain('Retries exhausted after 3 attempts');
  });
});
