import { createHmac, randomBytes } from 'node:crypto';
import { ManualClock } from '../../shared/core/manualClock';
import { HELD_SWEEP_DELAY_MS } from '../../shared/core/webhookIntake/heldDeliveries';
import type { OutgoingMessage } from '../../shared/ports/queue';
import { QUEUES } from '../../shared/ports/queue';
import { Harness } from '../support/harness';

/**
 * The hand-off between the worker's hold of a paused connection's delivery and the connection's
 * resume, when reads are stale (Cosmos DB at Session consistency: the worker and the admin API are
 * different clients). Each side writes, then reads what the other wrote: the worker writes the
 * delivery `held` and reads the connection again, the resume writes the connection active and
 * lists the held deliveries. Here both reads miss the other's write, as they can on Cosmos DB: the
 * store calls are wrapped to answer with the state from before that write, once each. The resume's
 * held sweep (shared/core/webhookIntake/heldDeliveries.ts) then releases the delivery within
 * HELD_SWEEP_DELAY_MS of the resume. The platform runs on a ManualClock (stores and the queue's
 * schedule), so the test crosses the sweep's delay without waiting for it, and sees that nothing
 * else is scheduled while a connection stays paused.
 */
const secret = `whsec_${randomBytes(24).toString('base64')}`;
const customers = { tenantId: 't1', connectionId: 'shop', entity: 'customers' };

describe('held webhook deliveries and a resume whose reads are stale (local host, ManualClock)', () => {
  const clock = new ManualClock(new Date());
  let h: Harness;
  const inboundSends: OutgoingMessage[] = [];

  /** Posts a signed Standard Webhooks delivery of a customer's state to `shop`; returns its delivery id. */
  async function post(recordId: string, name: string): Promise<string> {
    const id = `msg_${randomBytes(8).toString('hex')}`;
    const body = JSON.stringify({ type: 'customers.updated', data: { entity: 'customers', record: { id: recordId, name, updated_at: clock.now().toISOString() } } });
    const timestamp = Math.floor(clock.now().getTime() / 1000);
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const signature = `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
    const response = await fetch(`${h.hostUrl}/api/webhooks/sandbox/shop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature },
      body,
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { deliveryId: string }).deliveryId;
  }

  async function delivery(id: string): Promise<any> {
    return (await h.api('GET', '/api/connections/shop/deliveries?limit=500')).body.deliveries.find((d: any) => d.id === id);
  }

  /** The delivery once the worker has settled it (left `received`). */
  const settled = (id: string) => h.waitFor(`delivery ${id} to settle`, async () => {
    const entry = await delivery(id);
    return entry && entry.status !== 'received' ? entry : undefined;
  });

  /** Waits for the local host to have taken every message of sync-inbound that is due now. */
  const drained = () => h.waitFor('sync-inbound to drain', async () => {
    const depth = h.platform.queue.depth(QUEUES.inbound);
    return depth.active === 0 && depth.locked === 0;
  });

  /** Replaces a method of a store for the rest of one test; returns what puts it back. */
  function wrap<T extends object, K extends keyof T>(target: T, name: K, make: (original: T[K]) => T[K]): () => void {
    const original = target[name];
    target[name] = make(typeof original === 'function' ? (original as (...a: unknown[]) => unknown).bind(target) as T[K] : original);
    return () => {
      target[name] = original;
    };
  }

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 3 }, clock });
    expect((await h.api('PUT', '/api/connections/shop/webhook', { secrets: [secret] })).status).toBe(200);
    // Every message this test's stack sends to sync-inbound, to count what a hold costs.
    const queue = h.platform.queue;
    const send = queue.send.bind(queue);
    queue.send = async (name, messages) => {
      if (name === QUEUES.inbound) inboundSends.push(...(Array.isArray(messages) ? messages : [messages as OutgoingMessage]));
      return send(name, messages);
    };
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  it('a delivery both stale reads miss is applied by the resume\'s sweep, HELD_SWEEP_DELAY_MS after the resume', async () => {
    expect((await h.api('POST', '/api/connections/shop/pause')).body.status).toBe('paused');
    const { platform } = h;
    const restore: Array<() => void> = [];
    let resumed: { status: number; body: any } | undefined;
    let resumedAt = 0;
    try {
      // The worker's `held` write: the resume runs right after it, before the worker reads the
      // connection again. The resume's list of held deliveries is stale (it misses that write),
      // and so is the worker's read that follows (it misses the resume's write of `active`).
      let raced = false;
      restore.push(wrap(platform.deliveries, 'update', (update) => async (id, patch, at) => {
        const written = await update(id, patch, at);
        if (patch.status !== 'held' || raced) return written;
        raced = true;
        const paused = await platform.connections.get('shop');
        const undoList = wrap(platform.deliveries, 'listHeld', (listHeld) => async (...args) => {
          undoList();
          return (await listHeld(...args)).filter((d) => d.id !== id);
        });
        restore.push(undoList);
        resumedAt = clock.now().getTime();
        resumed = await h.api('POST', '/api/connections/shop/resume');
        const undoGet = wrap(platform.connections, 'get', (get) => async (connectionId) => {
          if (connectionId !== 'shop') return get(connectionId);
          undoGet();
          return paused;
        });
        restore.push(undoGet);
        return written;
      }));
      const id = await post('cus_race', 'Raced');

      // Without the sweep this is where it would stay: held, on an active connection.
      await h.waitFor('the resume during the hold', async () => resumed);
      await drained();
      expect((await delivery(id)).status).toBe('held');
      expect(resumed).toMatchObject({ status: 200, body: { status: 'active', releasedDeliveries: 0 } });
      expect((await h.api('GET', '/api/connections/shop')).body.status).toBe('active');
      expect(await platform.records.get(customers, 'cus_race')).toBeUndefined();
      for (const undo of restore.splice(0)) undo();

      // The sweep is due HELD_SWEEP_DELAY_MS after the resume, not before; then it applies the delivery.
      clock.set(new Date(resumedAt + HELD_SWEEP_DELAY_MS - 1));
      await new Promise((resolve) => setTimeout(resolve, 200)); // a message due now has been taken
      await drained();
      expect((await delivery(id)).status).toBe('held');
      clock.set(new Date(resumedAt + HELD_SWEEP_DELAY_MS));
      const entry = await h.waitFor('the sweep to apply the held delivery', async () => {
        const current = await delivery(id);
        return current?.status === 'applied' ? current : undefined;
      }, 10_000);
      expect({ detail: entry.detail, replays: entry.replays }).toEqual({ detail: null, replays: 1 });
      expect((await platform.records.get(customers, 'cus_race'))?.data.name).toBe('Raced');
      const log = h.telemetryLines.map((line) => JSON.parse(line)).find((line) => line.message === 'Held webhook deliveries released by the sweep after a resume.');
      expect(log).toMatchObject({ level: 'info', properties: { connectionId: 'shop', released: 1 } });
    } finally {
      for (const undo of restore) undo();
    }
  });

  it('a paused connection\'s held delivery stays held and costs no message until the resume; a sweep finding it paused again sends nothing', async () => {
    await drained();
    expect((await h.api('POST', '/api/connections/shop/pause')).body.status).toBe('paused');
    const first = await post('cus_wait', 'Waiting');
    expect((await settled(first)).status).toBe('held');

    // A resume and a pause at once: the resume's sweep comes while the connection is paused again.
    expect((await h.api('POST', '/api/connections/shop/resume')).body).toMatchObject({ status: 'active', releasedDeliveries: 1 });
    expect((await settled(first)).status).toBe('applied');
    expect((await h.api('POST', '/api/connections/shop/pause')).body.status).toBe('paused');
    clock.advance(1000); // a newer state of the record
    const second = await post('cus_wait', 'Still waiting');
    expect((await settled(second)).status).toBe('held');
    await drained();
    expect(h.platform.queue.depth(QUEUES.inbound).scheduled).toBe(1); // the resume's sweep
    const sendsBefore = inboundSends.length;

    // An hour, a minute at a time (the sweep of the resume above among them): nothing sent.
    for (let minute = 0; minute < 60; minute += 1) {
      clock.advance(60_000);
      await drained();
    }
    await new Promise((resolve) => setTimeout(resolve, 200)); // a sweep, had one been due, has run
    await drained();
    expect(inboundSends.slice(sendsBefore)).toEqual([]);
    expect(h.platform.queue.depth(QUEUES.inbound)).toEqual({ active: 0, locked: 0, scheduled: 0, deadLettered: 0 });
    expect(await delivery(second)).toMatchObject({ status: 'held', replays: 0 });
    expect((await h.platform.records.get(customers, 'cus_wait'))?.data.name).toBe('Waiting');

    // The resume releases it.
    expect((await h.api('POST', '/api/connections/shop/resume')).body).toMatchObject({ status: 'active', releasedDeliveries: 1 });
    expect((await settled(second)).status).toBe('applied');
    expect((await h.platform.records.get(customers, 'cus_wait'))?.data.name).toBe('Still waiting');
  });

  it('a resume whose sweep the queue refuses answers 503 and releases nothing; resuming again does both', async () => {
    await drained();
    expect((await h.api('POST', '/api/connections/shop/pause')).body.status).toBe('paused');
    clock.advance(1000);
    const id = await post('cus_refused', 'Refused once');
    expect((await settled(id)).status).toBe('held');
    const sweepsBefore = h.platform.queue.depth(QUEUES.inbound).scheduled; // the last test's resume's
    const undo = wrap(h.platform.queue, 'send', (send) => async (name, messages) => {
      if (JSON.stringify(messages).includes('held-sweep')) throw new Error('the broker is away');
      return send(name, messages);
    });
    try {
      const refused = await h.api('POST', '/api/connections/shop/resume');
      expect(refused.status).toBe(503);
      expect(JSON.stringify(refused.body)).toContain('Connection shop is resumed, but the queue did not accept the release of its held deliveries: they are still held. Resume the connection again to release them.');
    } finally {
      undo();
    }
    expect((await delivery(id)).status).toBe('held');
    expect((await h.api('POST', '/api/connections/shop/resume')).body).toMatchObject({ status: 'active', releasedDeliveries: 1 });
    expect((await settled(id)).status).toBe('applied');
    expect(h.platform.queue.depth(QUEUES.inbound).scheduled).toBe(sweepsBefore + 1); // the second resume's sweep
  });
});
