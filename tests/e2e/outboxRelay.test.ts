import { InvocationContext, type Timer } from '@azure/functions';
import { outboxRelayHandler, relayIdleSeconds } from '../../functions/outboxRelay';
import { contentHash } from '../../shared/core/hash';
import { ManualClock } from '../../shared/core/manualClock';
import { twoWayFor } from '../../shared/core/outbound/registry';
import { outboundMessage } from '../../shared/core/outbound/localChanges';
import { QUEUES } from '../../shared/ports/queue';
import type { OutboxEntry } from '../../shared/ports/outboxStore';
import { Harness } from '../support/harness';

/**
 * The outbox relay timer on the real stack: a push whose message was lost (committed, never sent)
 * goes out once it has been idle long enough, and one that is merely young is left alone.
 */
describe('outboxRelay timer: lost push messages are re-sent on a host that never restarts', () => {
  let h: Harness;
  const con = 'shop';
  const cus = (n: number) => `cus_${String(n).padStart(7, '0')}`;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 10 } });
    expect((await h.waitForRun(await h.startSync('full', con))).state).toBe('done');
  });
  afterAll(async () => h.close());

  /** Commits a local change and its outbox entry the way the API does, but sends no message (the crash). */
  async function commitWithoutSending(n: number, name: string, updatedAt: string): Promise<string> {
    const scope = { tenantId: 't1', connectionId: con, entity: 'customers' };
    const current = (await h.platform.records.get(scope, cus(n)))!;
    const data = { ...current.data, name };
    const version = current.version + 1;
    const id = `out_relay_${n}`;
    await h.platform.outbox.commitLocalChange(
      { ...current, data, hash: contentHash(data), version, base: current.data, pendingPush: { op: 'update', version, outboxId: id, since: updatedAt } },
      { id, ...scope, externalId: cus(n), recordId: current.id, version, op: 'update', data, changedFields: ['name'], state: 'pending', attempts: 0, createdAt: updatedAt, updatedAt },
    );
    return id;
  }

  async function runTimer(): Promise<string[]> {
    const lines: string[] = [];
    const context = new InvocationContext({ functionName: 'outboxRelay', logHandler: (_level, ...args) => lines.push(args.join(' ')) });
    await outboxRelayHandler({} as Timer, context);
    return lines;
  }

  test('re-sends an idle pending push, leaves a fresh one alone, and the idle one reaches the provider once', async () => {
    const idle = await commitWithoutSending(3, 'Relayed After A Crash', new Date(Date.now() - 10 * 60_000).toISOString());
    const fresh = await commitWithoutSending(4, 'Still In Flight', new Date().toISOString());

    const lines = await runTimer();
    expect(lines.join('\n')).toContain('re-sent 1 push(es)');
    const done = await h.waitFor(`outbox entry ${idle} to settle`, async () => {
      const entry = await h.platform.outbox.get(idle);
      return entry && entry.state !== 'pending' ? entry : undefined;
    });
    expect(done).toMatchObject<Partial<OutboxEntry>>({ state: 'done', attempts: 1 });
    expect(await h.sandbox('GET', `records/customers/${cus(3)}`)).toMatchObject({ name: 'Relayed After A Crash' });

    // The fresh entry was not sent: still pending, untouched, the provider unchanged.
    expect(await h.platform.outbox.get(fresh)).toMatchObject({ state: 'pending', attempts: 0 });
    expect(await h.sandbox('GET', `records/customers/${cus(4)}`)).not.toMatchObject({ name: 'Still In Flight' });

    // A second tick finds nothing idle any more: the done entry is not pushed again.
    expect((await runTimer()).join('\n')).not.toContain('re-sent');
  });

  test('each tick is a trace of its own, logged, and continued by the worker that makes the push it re-sent', async () => {
    type Line = { type: string; name?: string; message?: string; traceId?: string; properties?: Record<string, unknown> };
    const lines = () => h.telemetryLines.map((line) => JSON.parse(line) as Line);
    const tick = async (n: number) => {
      const id = await commitWithoutSending(n, `Traced Relay ${n}`, new Date(Date.now() - 10 * 60_000).toISOString());
      const warnedBefore = lines().filter((l) => l.message === 'Re-sent pending pushes whose queue message was lost.').length;
      await runTimer();
      await h.waitFor(`outbox entry ${id} to settle`, async () => ((await h.platform.outbox.get(id))?.state === 'done' ? true : undefined));
      const warned = lines().filter((l) => l.message === 'Re-sent pending pushes whose queue message was lost.');
      expect(warned).toHaveLength(warnedBefore + 1);
      const { traceId, properties } = warned[warned.length - 1];
      expect(properties).toMatchObject({ count: 1, connections: con });
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      // The outbound worker received the re-sent message inside the tick's trace.
      const pushed = lines().filter((l) => l.type === 'metric' && l.name === 'QueueLagMs' && l.properties?.queue === 'sync-outbound' && l.traceId === traceId);
      expect(pushed.length).toBeGreaterThanOrEqual(1);
      return traceId!;
    };
    const first = await tick(5);
    const second = await tick(6);
    expect(second).not.toBe(first);
  });

  test('the idle threshold is configurable and refuses values under 30 s', () => {
    expect(relayIdleSeconds({})).toBe(120);
    expect(relayIdleSeconds({ SYNCBRIDGE_OUTBOX_RELAY_IDLE_SECONDS: '300' })).toBe(300);
    expect(() => relayIdleSeconds({ SYNCBRIDGE_OUTBOX_RELAY_IDLE_SECONDS: '5' })).toThrow(/at least 30/);
    expect(() => relayIdleSeconds({ SYNCBRIDGE_OUTBOX_RELAY_IDLE_SECONDS: 'soon' })).toThrow(/SYNCBRIDGE_OUTBOX_RELAY_IDLE_SECONDS/);
  });
});

/**
 * The relay and a push rescheduled for later than its idle time: a provider's 429 with a
 * Retry-After of 30 minutes. The platform runs on a ManualClock (stores, queue schedule, the
 * Retry-After's reading), so the test crosses the idle time, the broker's ten-minute
 * duplicate-detection window and the Retry-After without waiting for them.
 */
describe('outboxRelay timer: a push waiting for its Retry-After is not re-sent before it is due', () => {
  const MINUTE = 60_000;
  const RETRY_AFTER_SECONDS = 30 * 60;
  const clock = new ManualClock(new Date());
  let h: Harness;
  const con = 'later';
  const cus = (n: number) => `cus_${String(n).padStart(7, '0')}`;
  const scope = { tenantId: 't1', connectionId: con, entity: 'customers' };

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 10 }, clock });
    twoWayFor(h.services, { retry: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 3 }, random: () => 0.5 });
    await h.twoWayConnection(con);
  });
  afterAll(async () => h.close());

  async function runTimer(): Promise<string> {
    const lines: string[] = [];
    const context = new InvocationContext({ functionName: 'outboxRelay', logHandler: (_level, ...args) => lines.push(args.join(' ')) });
    await outboxRelayHandler({} as Timer, context);
    return lines.join('\n');
  }

  const acceptedWrites = async () => (await h.sandbox('GET', 'stats')).byKind.write['200'] ?? 0;
  const outbound = () => h.platform.queue.depth(QUEUES.outbound);

  test('a 429 with Retry-After: 1800 is left alone by the relay until due, then pushed once by its scheduled message', async () => {
    await h.sandbox('POST', 'faults', { rejectWrites: { status: 429, retryAfterSeconds: RETRY_AFTER_SECONDS } });
    const start = clock.now().getTime();
    const written = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(2)}`, { name: 'After Half An Hour' });
    expect(written.status).toBe(202);
    const id: string = written.body.pendingPush.outboxId;
    const waiting = await h.waitFor('the push to be refused and rescheduled', async () => {
      const entry = await h.platform.outbox.get(id);
      return entry?.attempts === 1 ? entry : undefined;
    });
    expect(waiting).toMatchObject({ state: 'pending', nextAttemptAt: new Date(start + RETRY_AFTER_SECONDS * 1000).toISOString() });
    expect(outbound().scheduled).toBe(1);
    const accepted = await acceptedWrites();

    // Past the relay's idle time (2 min) and the broker's duplicate detection (10 min), before the
    // Retry-After: a re-send here would get through and hit the provider 19 minutes early.
    clock.advance(11 * MINUTE);
    expect(await runTimer()).not.toContain('re-sent');
    clock.advance(18 * MINUTE);
    expect(await runTimer()).not.toContain('re-sent');
    await new Promise((resolve) => setTimeout(resolve, 200)); // time for a stray message to be pushed
    expect(await h.platform.outbox.get(id)).toMatchObject({ state: 'pending', attempts: 1 });
    expect(await acceptedWrites()).toBe(accepted);
    expect(outbound()).toMatchObject({ active: 0, scheduled: 1 });

    // Due: the broker delivers the scheduled retry, and the provider takes it.
    clock.advance(1 * MINUTE);
    const done = await h.settledOutbox(id);
    expect(done).toMatchObject({ state: 'done', attempts: 2 });
    expect((await h.sandbox('GET', `records/customers/${cus(2)}`)).name).toBe('After Half An Hour');
    expect(await acceptedWrites()).toBe(accepted + 1);
    clock.advance(5 * MINUTE);
    expect(await runTimer()).not.toContain('re-sent');
  });

  test('a message older than the retry (a re-send that arrived during a slow attempt) does not push before the retry is due', async () => {
    await h.sandbox('POST', 'faults', { rejectWrites: { status: 429, retryAfterSeconds: RETRY_AFTER_SECONDS } });
    const written = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(4)}`, { name: 'Not Before Its Time' });
    const id: string = written.body.pendingPush.outboxId;
    const waiting = await h.waitFor('the push to be refused and rescheduled', async () => {
      const entry = await h.platform.outbox.get(id);
      return entry?.attempts === 1 ? entry : undefined;
    });
    const accepted = await acceptedWrites();
    // The relay's message for this entry, as it sends it (no due time), after the broker's
    // duplicate-detection window, while the entry waits for its Retry-After.
    clock.advance(11 * MINUTE);
    await h.platform.queue.send(QUEUES.outbound, outboundMessage(waiting));
    await h.waitFor('the stray message to be handled', async () => outbound().active === 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await h.platform.outbox.get(id)).toMatchObject({ state: 'pending', attempts: 1 });
    expect(await acceptedWrites()).toBe(accepted);

    // The retry's own message names its due time: delivered while this worker's clock still reads
    // earlier (a broker clock running ahead), it attempts the push rather than skip itself. The
    // provider's call is still held by the connection's rate-limit hold (the same Retry-After,
    // shared/http/connectionLimits.ts): the attempt is counted and rescheduled to the hold's end.
    await h.platform.queue.send(QUEUES.outbound, { body: { outboxId: id, dueAt: waiting.nextAttemptAt }, messageId: `${id}.skewed`, sessionId: con });
    const held = await h.waitFor('the skewed retry to be attempted', async () => {
      const entry = await h.platform.outbox.get(id);
      return entry?.attempts === 2 ? entry : undefined;
    });
    expect(held).toMatchObject({ state: 'pending', nextAttemptAt: waiting.nextAttemptAt });
    expect(held.lastError).toMatch(/held GET .* until .*HTTP 429 on PATCH/);
    expect(await acceptedWrites()).toBe(accepted);
    // When due, the scheduled retries push it once: the provider got it once.
    clock.advance(RETRY_AFTER_SECONDS * 1000 - 11 * MINUTE);
    expect(await h.settledOutbox(id)).toMatchObject({ state: 'done', attempts: 3 });
    expect((await h.sandbox('GET', `records/customers/${cus(4)}`)).name).toBe('Not Before Its Time');
    await h.waitFor('the scheduled retries to be handled', async () => outbound().scheduled === 0 && outbound().active === 0);
    expect(await acceptedWrites()).toBe(accepted + 1);
  });

  test('a retry whose scheduled message was lost (the instance died after the update) is relayed once due, not before', async () => {
    // The worker's update of a refused push, as retryLater writes it, without the send that follows.
    const current = (await h.platform.records.get(scope, cus(3)))!;
    const data = { ...current.data, name: 'Lost Retry' };
    const version = current.version + 1;
    const now = clock.now().toISOString();
    const id = `out_lost_retry_${version}`;
    await h.platform.outbox.commitLocalChange(
      { ...current, data, hash: contentHash(data), version, base: current.data, pendingPush: { op: 'update', version, outboxId: id, since: now } },
      { id, ...scope, externalId: cus(3), recordId: current.id, version, op: 'update', data, changedFields: ['name'], state: 'pending', attempts: 0, createdAt: now, updatedAt: now },
    );
    const due = new Date(clock.now().getTime() + RETRY_AFTER_SECONDS * 1000).toISOString();
    await h.platform.outbox.update(id, { state: 'pending', attempts: 1, lastError: 'HTTP 429', nextAttemptAt: due }, now);

    clock.advance(20 * MINUTE);
    expect(await runTimer()).not.toContain('re-sent');
    clock.advance(11 * MINUTE); // due a minute ago: not yet idle for the relay's 2 minutes
    expect(await runTimer()).not.toContain('re-sent');
    expect(await h.platform.outbox.get(id)).toMatchObject({ state: 'pending', attempts: 1 });
    clock.advance(1 * MINUTE + 1);
    expect(await runTimer()).toContain('re-sent 1 push(es)');
    const done = await h.settledOutbox(id);
    expect(done).toMatchObject({ state: 'done', attempts: 2 });
    expect((await h.sandbox('GET', `records/customers/${cus(3)}`)).name).toBe('Lost Retry');
  });
});
