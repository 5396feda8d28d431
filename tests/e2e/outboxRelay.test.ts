import { InvocationContext, type Timer } from '@azure/functions';
import { outboxRelayHandler, relayIdleSeconds } from '../../functions/outboxRelay';
import { contentHash } from '../../shared/core/hash';
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

  test('the idle threshold is configurable and refuses values shorter than the retry backoff', () => {
    expect(relayIdleSeconds({})).toBe(120);
    expect(relayIdleSeconds({ SYNCBRIDGE_OUTBOX_RELAY_IDLE_SECONDS: '300' })).toBe(300);
    expect(() => relayIdleSeconds({ SYNCBRIDGE_OUTBOX_RELAY_IDLE_SECONDS: '5' })).toThrow(/at least 30/);
    expect(() => relayIdleSeconds({ SYNCBRIDGE_OUTBOX_RELAY_IDLE_SECONDS: 'soon' })).toThrow(/SYNCBRIDGE_OUTBOX_RELAY_IDLE_SECONDS/);
  });
});
