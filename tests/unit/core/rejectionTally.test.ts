import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RejectionTally } from '../../../shared/core/webhookIntake/rejectionTally';
import { openDatabase, type SqliteDatabase } from '../../../shared/platform/local/database';
import { SqliteDeliveryStore } from '../../../shared/platform/local/sqliteDeliveryStore';

/**
 * Webhook health's rejections are counted with one store write per connection per event-loop turn
 * (a flood of refused deliveries must not cost a write each), every count kept, each caller
 * answered once its count is written. On a real SQLite delivery store.
 */
describe('RejectionTally', () => {
  let dir: string;
  let db: SqliteDatabase;
  let store: SqliteDeliveryStore;
  let writes: number;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncbridge-rejections-'));
    db = openDatabase(join(dir, 'syncbridge.db'));
    store = new SqliteDeliveryStore(db);
    writes = 0;
    const recordHealth = store.recordHealth.bind(store);
    store.recordHealth = (...args) => {
      writes += 1;
      return recordHealth(...args);
    };
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('rejections of one turn are one write per connection, every one counted, the last error kept', async () => {
    const tally = new RejectionTally(store);
    const calls = [
      ...Array.from({ length: 25 }, (_, i) => tally.record('conn-a', `2026-03-01T00:00:${String(i).padStart(2, '0')}.000Z`, `401: bad signature ${i}`)),
      ...Array.from({ length: 5 }, (_, i) => tally.record('conn-b', '2026-03-02T00:00:00.000Z', `413: too large ${i}`)),
    ];
    await Promise.all(calls);
    expect(writes).toBe(2);
    expect(await store.health('conn-a')).toMatchObject({ rejected: 25, lastRejectedAt: '2026-03-01T00:00:24.000Z', lastError: '401: bad signature 24' });
    expect(await store.health('conn-b')).toMatchObject({ rejected: 5, lastError: '413: too large 4' });

    // The next turn's rejections are a write of their own.
    await tally.record('conn-a', '2026-03-03T00:00:00.000Z', '401: stale timestamp');
    expect(writes).toBe(3);
    expect((await store.health('conn-a')).rejected).toBe(26);
  });

  test('a failed write fails every caller whose count it held', async () => {
    const tally = new RejectionTally(store);
    store.recordHealth = async () => {
      throw new Error('disk full');
    };
    const outcomes = await Promise.allSettled([tally.record('conn-a', '2026-03-01T00:00:00.000Z', '401'), tally.record('conn-a', '2026-03-01T00:00:01.000Z', '401')]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
  });
  test('an intake that counts rejections takes the turn\'s counts instead of the store; its failure is every caller\'s', async () => {
    const counted: Array<[string, number, string, string]> = [];
    const tally = new RejectionTally(store, {
      write: () => Promise.reject(new Error('not used')),
      recordRejections: async (connectionId, count, at, detail) => {
        counted.push([connectionId, count, at, detail]);
      },
    });
    await Promise.all([tally.record('conn-a', '2026-03-01T00:00:00.000Z', '401: a'), tally.record('conn-a', '2026-03-01T00:00:01.000Z', '401: b')]);
    expect(counted).toEqual([['conn-a', 2, '2026-03-01T00:00:01.000Z', '401: b']]);
    expect(writes).toBe(0);

    const failing = new RejectionTally(store, { write: () => Promise.reject(new Error('not used')), recordRejections: () => Promise.reject(new Error('journal full')) });
    const results = await Promise.allSettled([failing.record('conn-a', '2026-03-01T00:00:00.000Z', '401'), failing.record('conn-a', '2026-03-01T00:00:00.000Z', '401')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(writes).toBe(0);
  });
});

describe('the webhook receiver counts rejections through the tally', () => {
  test('twenty forged deliveries at once: all refused (401), counted 20, written once', async () => {
    const { createLocalPlatform } = await import('../../../shared/platform/local/localPlatform');
    const { createServices } = await import('../../../shared/composition');
    const { webhookIntakeFor } = await import('../../../shared/core/webhookIntake');
    const { PassThrough } = await import('node:stream');
    const dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-rejections-receiver-'));
    const platform = createLocalPlatform({ dataDir, telemetrySink: new PassThrough().resume(), checkpointIntervalMs: 0 });
    try {
      const services = createServices(platform);
      await services.tenants.ensureTenant('t1', 'Tenant');
      await services.connections.create({ tenantId: 't1', id: 'hooks', provider: 'sandbox', config: { baseUrl: 'http://127.0.0.1:9' }, entities: ['customers'] });
      const intake = webhookIntakeFor(services);
      await intake.setSecrets('t1', 'hooks', [`whsec_${Buffer.alloc(32, 7).toString('base64')}`]);
      let writes = 0;
      const recordHealth = platform.deliveries.recordHealth.bind(platform.deliveries);
      platform.deliveries.recordHealth = (...args) => {
        writes += 1;
        return recordHealth(...args);
      };
      const body = Buffer.from(JSON.stringify({ type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_1' } } }));
      const forged = (i: number) =>
        intake.receiver.receive({
          provider: 'sandbox',
          connectionId: 'hooks',
          method: 'POST',
          url: 'http://127.0.0.1/api/webhooks/sandbox/hooks',
          headers: new Headers({ 'webhook-id': `msg_${i}`, 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,Zm9yZ2Vk' }),
          readBody: async () => body,
        });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => forged(i)));
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(401));
      expect((await platform.deliveries.health('hooks')).rejected).toBe(20);
      expect(writes).toBe(1);

      // A count that cannot be written does not turn the refusal into a 5xx.
      platform.deliveries.recordHealth = async () => {
        throw new Error('database is locked');
      };
      expect((await forged(21)).status).toBe(401);
    } finally {
      await platform.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

});
