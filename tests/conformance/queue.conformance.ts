import { randomUUID } from 'node:crypto';
import { QUEUES, type QueueName, type QueueSender } from '../../shared/ports/queue';

/** A message as a receiver of the queue sees it. */
export interface DrainedMessage {
  body: unknown;
  messageId: string;
  sessionId?: string;
  scheduledEnqueueTime?: Date;
  applicationProperties?: Record<string, unknown>;
}

export interface QueueConformanceSubject {
  sender: QueueSender;
  /**
   * Receives and completes every message of the queue that can be delivered now, in delivery order
   * (per session: the session's order), and returns them. Messages left by other tests may be
   * among them; the suite only looks at its own.
   */
  drain(queue: QueueName): Promise<DrainedMessage[]>;
  cleanup(): Promise<void>;
}

/**
 * The QueueSender port's semantics as a receiver sees them (shared/ports/queue.ts). Every
 * implementation runs this suite: SqliteQueue locally, Service Bus against a test namespace, where
 * both queues require sessions - so every message here carries a session id, and every test uses
 * fresh message ids, so that runs never trip each other's duplicate detection.
 */
export function queueConformance(name: string, factory: () => Promise<QueueConformanceSubject>): void {
  describe(`QueueSender conformance: ${name}`, () => {
    let subject: QueueConformanceSubject;
    let prefix: string;

    beforeEach(async () => {
      subject = await factory();
      prefix = `conformance-${randomUUID()}`;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    const id = (suffix: string) => `${prefix}:${suffix}`;
    const mine = (messages: DrainedMessage[]) => messages.filter((m) => m.messageId.startsWith(prefix));

    async function drainUntil(queue: QueueName, enough: (mineSoFar: DrainedMessage[]) => boolean, timeoutMs = 20_000): Promise<DrainedMessage[]> {
      const collected: DrainedMessage[] = [];
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        collected.push(...mine(await subject.drain(queue)));
        if (enough(collected) || Date.now() > deadline) return collected;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }

    it('delivers a sent message with its body, id, session and application properties once send resolves', async () => {
      const body = { runId: 'r1', entity: 'contacts', page: 3, cursor: null, items: [{ id: 'a', tags: ['x'] }], note: 'żółw ✓' };
      await subject.sender.send(QUEUES.inbound, {
        body,
        messageId: id('m1'),
        sessionId: id('conn'),
        applicationProperties: { kind: 'step', attempt: 2, replay: false },
      });
      const drained = await drainUntil(QUEUES.inbound, (got) => got.length >= 1);
      expect(drained).toHaveLength(1);
      expect(drained[0]).toMatchObject({
        body,
        messageId: id('m1'),
        sessionId: id('conn'),
        applicationProperties: { kind: 'step', attempt: 2, replay: false },
      });
    });

    it('delivers string, number and array bodies as sent', async () => {
      const bodies: unknown[] = ['plain text', 42, [1, 'two', { three: 3 }]];
      await subject.sender.send(
        QUEUES.inbound,
        bodies.map((body, i) => ({ body, messageId: id(`b${i}`), sessionId: id('conn') })),
      );
      const drained = await drainUntil(QUEUES.inbound, (got) => got.length >= 3);
      expect(drained.map((m) => m.body)).toEqual(bodies);
    });

    it('delivers every message of a batch, and one session in the order sent', async () => {
      const count = 20;
      await subject.sender.send(
        QUEUES.inbound,
        Array.from({ length: count }, (_, i) => ({ body: { n: i }, messageId: id(`m${i}`), sessionId: id('conn') })),
      );
      const drained = await drainUntil(QUEUES.inbound, (got) => got.length >= count);
      expect(drained.map((m) => (m.body as { n: number }).n)).toEqual(Array.from({ length: count }, (_, i) => i));
    });

    it('keeps each session in order when sessions interleave', async () => {
      for (let n = 0; n < 4; n += 1) {
        await subject.sender.send(QUEUES.inbound, [
          { body: { n }, messageId: id(`a${n}`), sessionId: id('A') },
          { body: { n }, messageId: id(`b${n}`), sessionId: id('B') },
        ]);
      }
      const drained = await drainUntil(QUEUES.inbound, (got) => got.length >= 8);
      for (const session of [id('A'), id('B')]) {
        expect(drained.filter((m) => m.sessionId === session).map((m) => (m.body as { n: number }).n)).toEqual([0, 1, 2, 3]);
      }
    });

    it('accepts and drops a message whose id was sent before, in the same batch or a later send', async () => {
      await subject.sender.send(QUEUES.inbound, [
        { body: 'first', messageId: id('same'), sessionId: id('conn') },
        { body: 'same batch', messageId: id('same'), sessionId: id('conn') },
      ]);
      await subject.sender.send(QUEUES.inbound, { body: 'later send', messageId: id('same'), sessionId: id('conn') });
      await subject.sender.send(QUEUES.inbound, { body: 'marker', messageId: id('marker'), sessionId: id('conn') });
      const drained = await drainUntil(QUEUES.inbound, (got) => got.some((m) => m.messageId === id('marker')));
      expect(drained.map((m) => m.body)).toEqual(['first', 'marker']);
    });

    it('drops a duplicate even after the first copy was received and completed', async () => {
      await subject.sender.send(QUEUES.inbound, { body: 'first', messageId: id('same'), sessionId: id('conn') });
      expect((await drainUntil(QUEUES.inbound, (got) => got.length >= 1)).map((m) => m.body)).toEqual(['first']);
      await subject.sender.send(QUEUES.inbound, { body: 'retry of the sender', messageId: id('same'), sessionId: id('conn') });
      await subject.sender.send(QUEUES.inbound, { body: 'marker', messageId: id('marker'), sessionId: id('conn') });
      const drained = await drainUntil(QUEUES.inbound, (got) => got.some((m) => m.messageId === id('marker')));
      expect(drained.map((m) => m.body)).toEqual(['marker']);
    });

    it('does not deliver a scheduled message before its time, and delivers it after', async () => {
      const at = new Date(Date.now() + 3_000);
      await subject.sender.send(QUEUES.inbound, { body: 'later', messageId: id('later'), sessionId: id('conn'), scheduledEnqueueTime: at });
      await subject.sender.send(QUEUES.inbound, { body: 'now', messageId: id('now'), sessionId: id('other') });
      const early = await drainUntil(QUEUES.inbound, (got) => got.length >= 1);
      expect(early.map((m) => m.body)).toEqual(['now']);
      expect(Date.now()).toBeLessThan(at.getTime()); // the drain above really ran before the time
      const late = await drainUntil(QUEUES.inbound, (got) => got.length >= 1);
      expect(Date.now()).toBeGreaterThanOrEqual(at.getTime());
      expect(late.map((m) => m.body)).toEqual(['later']);
      expect(late[0]?.scheduledEnqueueTime?.getTime()).toBe(at.getTime());
    }, 30_000);

    it('delivers a scheduled message whose time has come before a message its session is sent afterwards', async () => {
      const at = new Date(Date.now() + 1_000);
      await subject.sender.send(QUEUES.inbound, { body: 'scheduled', messageId: id('scheduled'), sessionId: id('conn'), scheduledEnqueueTime: at });
      await new Promise((resolve) => setTimeout(resolve, at.getTime() - Date.now() + 50));
      await subject.sender.send(QUEUES.inbound, { body: 'sent after its time', messageId: id('after'), sessionId: id('conn') });
      const drained = await drainUntil(QUEUES.inbound, (got) => got.length >= 2);
      expect(drained.map((m) => m.body)).toEqual(['scheduled', 'sent after its time']);
    });

    it('delivers a message scheduled in the past at once', async () => {
      await subject.sender.send(QUEUES.inbound, {
        body: 'overdue',
        messageId: id('overdue'),
        sessionId: id('conn'),
        scheduledEnqueueTime: new Date(Date.now() - 60_000),
      });
      expect((await drainUntil(QUEUES.inbound, (got) => got.length >= 1)).map((m) => m.body)).toEqual(['overdue']);
    });

    it('keeps the queues apart', async () => {
      await subject.sender.send(QUEUES.outbound, { body: 'outbound', messageId: id('o1'), sessionId: id('conn') });
      await subject.sender.send(QUEUES.inbound, { body: 'inbound', messageId: id('i1'), sessionId: id('conn') });
      const inbound = await drainUntil(QUEUES.inbound, (got) => got.length >= 1);
      const outbound = await drainUntil(QUEUES.outbound, (got) => got.length >= 1);
      expect(inbound.map((m) => m.body)).toEqual(['inbound']);
      expect(outbound.map((m) => m.body)).toEqual(['outbound']);
    });

    it('accepts an empty batch', async () => {
      await expect(subject.sender.send(QUEUES.inbound, [])).resolves.toBeUndefined();
    });
  });
}
