import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createHmac } from 'node:crypto';
import { webhookReceiverHandler } from '../../../functions/webhookReceiver';
import { useServices } from '../../../functions/services';
import { bufferedHttpRequest } from '../../../local/bufferedRequest';
import { createInvocationContext } from '../../../local/invocation';
import { createServices } from '../../../shared/composition';
import { webhookIntakeFor } from '../../../shared/core/webhookIntake';
import { IntakeGroupCommit, type IntakeEntry } from '../../../shared/core/webhookIntake/groupCommit';
import { createLocalPlatform, type LocalPlatform } from '../../../shared/platform/local/localPlatform';

/**
 * The intake's duplicate claims when the log write or the send fails part-way, as they can on
 * Cosmos DB and Service Bus (where claim, log and send are separate calls): the local platform
 * with a write per call, and its queue or claim store made to fail or stall.
 */
describe('webhook intake group commit: a claim is a duplicate only once its delivery is enqueued', () => {
  let platform: LocalPlatform;
  let dataDir: string;
  let n = 0;
  const IN_FLIGHT_MS = 150;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-intake-'));
    platform = createLocalPlatform({ dataDir, telemetrySink: new PassThrough().resume(), commitPerTurn: false, checkpointIntervalMs: 0 });
  });
  afterEach(async () => {
    await platform.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function entry(webhookId: string): IntakeEntry {
    const at = new Date().toISOString();
    const deliveryId = `dlv_${webhookId}`;
    return {
      claimKey: `webhook:c1:${webhookId}`,
      delivery: { id: deliveryId, tenantId: 't1', connectionId: 'c1', provider: 'sandbox', webhookId, receivedAt: at, status: 'received', eventType: 'customers.updated', headers: {}, body: '{}', replays: 0, updatedAt: at },
      message: { body: { kind: 'webhook', connectionId: 'c1', deliveryId }, messageId: `webhook:${deliveryId}:${(n += 1)}`, sessionId: 'c1' },
    };
  }

  /** The platform with some of its queue's and claim store's methods replaced. */
  function wrapped(queue: Partial<LocalPlatform['queue']>, idempotency: Partial<LocalPlatform['idempotency']> = {}): LocalPlatform {
    return Object.create(platform, {
      queue: { value: Object.assign(Object.create(platform.queue), queue), writable: true, configurable: true },
      idempotency: { value: Object.assign(Object.create(platform.idempotency), idempotency), writable: true, configurable: true },
    });
  }

  const enqueued = () => platform.queue.depth('sync-inbound').active;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test('a retry after a failed send whose claim could not be released is told to come back, then accepted', async () => {
    let sendFails = true;
    const flaky = wrapped(
      { send: ((name: string, messages: never) => (sendFails ? Promise.reject(new Error('Service Bus is down.')) : platform.queue.send(name, messages))) as never },
      { release: () => Promise.reject(new Error('Cosmos DB throttled the delete.')) },
    );
    const intake = new IntakeGroupCommit(flaky, 24 * 3600_000, 256, IN_FLIGHT_MS);
    await expect(intake.write(entry('w1'))).rejects.toThrow(/Service Bus is down/);
    sendFails = false;
    expect(await intake.write(entry('w1'))).toBe('in_progress'); // never "received before": it was not
    expect(enqueued()).toBe(0);
    await sleep(IN_FLIGHT_MS + 50); // the unreleased claim lapses
    expect(await intake.write(entry('w1'))).toBe('accepted');
    expect(enqueued()).toBe(1);
  });

  test('a retry that arrives while the first attempt is still being sent is not answered "duplicate"', async () => {
    let releaseSend!: (outcome: Error | null) => void;
    const slow = wrapped({
      send: (async (name: string, messages: never) => {
        const outcome = await new Promise<Error | null>((r) => (releaseSend = r));
        if (outcome) throw outcome;
        return platform.queue.send(name, messages);
      }) as never,
    });
    const intake = new IntakeGroupCommit(slow, 24 * 3600_000, 256, IN_FLIGHT_MS);
    const first = intake.write(entry('w2'));
    await sleep(20);
    expect(await intake.write(entry('w2'))).toBe('in_progress');
    releaseSend(new Error('The send timed out.'));
    await expect(first).rejects.toThrow(/timed out/);
    const retry = intake.write(entry('w2'));
    await sleep(20);
    releaseSend(null);
    expect(await retry).toBe('accepted');
    expect(enqueued()).toBe(1);
  });

  test('once enqueued, a retry is a duplicate for the whole dedupe window, long after the in-flight claim would have lapsed', async () => {
    const intake = new IntakeGroupCommit(platform, 24 * 3600_000, 256, IN_FLIGHT_MS);
    expect(await intake.write(entry('w3'))).toBe('accepted');
    await sleep(IN_FLIGHT_MS + 50);
    expect(await intake.write(entry('w3'))).toBe('duplicate');
    expect(enqueued()).toBe(1);
    // The completed claim holds the delivery's id (a duplicate's answer can name it).
    expect(await platform.idempotency.claim(entry('w3').claimKey, IN_FLIGHT_MS)).toEqual({ claimed: false, result: entry('w3').delivery.id });
  });

  test('the webhook function answers such a retry 503 in_progress with Retry-After, and enqueues nothing for it', async () => {
    let releaseSend!: () => void;
    const stalled = wrapped({
      send: (async (name: string, messages: never) => {
        await new Promise<void>((r) => (releaseSend = r));
        return platform.queue.send(name, messages);
      }) as never,
    });
    const services = createServices(stalled);
    useServices(services);
    await services.tenants.ensureTenant('t1', 'Tenant one');
    await services.connections.create({ tenantId: 't1', id: 'c1', provider: 'sandbox', config: { baseUrl: 'http://127.0.0.1:9' }, entities: ['customers'] });
    const key = Buffer.alloc(32, 7);
    await webhookIntakeFor(services).setSecrets('t1', 'c1', [`whsec_${key.toString('base64')}`]);
    const body = JSON.stringify({ id: 'msg_1', type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_1' } } });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHmac('sha256', key).update(`msg_1.${timestamp}.${body}`).digest('base64');
    const post = () => webhookReceiverHandler(
      bufferedHttpRequest({
        method: 'POST', url: 'http://127.0.0.1/api/webhooks/sandbox/c1', params: { provider: 'sandbox', connectionId: 'c1' }, body: Buffer.from(body),
        headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1', 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` },
      }),
      createInvocationContext('webhookReceiver', () => undefined),
    );
    const first = post();
    await sleep(20);
    const retry = await post();
    expect(retry).toMatchObject({ status: 503, headers: expect.objectContaining({ 'retry-after': '5' }), jsonBody: { error: { code: 'in_progress' } } });
    releaseSend();
    expect(await first).toMatchObject({ status: 202 });
    expect(enqueued()).toBe(1);
  });

  test('the same delivery twice in one batch: accepted once, the second a duplicate', async () => {
    const intake = new IntakeGroupCommit(platform, 24 * 3600_000, 256, IN_FLIGHT_MS);
    expect(await Promise.all([intake.write(entry('w4')), intake.write(entry('w4'))])).toEqual(['accepted', 'duplicate']);
    expect(enqueued()).toBe(1);
  });
});
