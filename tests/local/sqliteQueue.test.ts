import { openDatabase } from '../../shared/platform/local/database';
import { MAX_DELIVERY_COUNT_EXCEEDED, SqliteQueue } from '../../shared/platform/local/sqliteQueue';
import { ManualClock, openTempDatabase } from './helpers';

const Q = 'sync-inbound';

describe('SqliteQueue', () => {
  let env: ReturnType<typeof openTempDatabase>;
  let clock: ManualClock;
  let queue: SqliteQueue;

  beforeEach(() => {
    env = openTempDatabase();
    clock = new ManualClock();
    queue = new SqliteQueue(env.db, { clock, maxDeliveryCount: 3, lockDurationMs: 30_000 });
  });
  afterEach(() => {
    queue.close();
    env.cleanup();
  });

  describe('peek-lock without sessions', () => {
    it('delivers a sent message with its body, properties and a first delivery count of 1', async () => {
      await queue.send(Q, { body: { page: 1, items: ['a'] }, messageId: 'm1', applicationProperties: { kind: 'step', attempt: 2, urgent: true } });
      const message = queue.receive(Q);
      expect(message).toMatchObject({
        queue: Q,
        messageId: 'm1',
        body: { page: 1, items: ['a'] },
        applicationProperties: { kind: 'step', attempt: 2, urgent: true },
        deliveryCount: 1,
      });
      expect(message?.sessionId).toBeUndefined();
      expect(message?.lockedUntil.getTime()).toBe(clock.now().getTime() + 30_000);
    });

    it('hides a locked message from other receivers and deletes it on complete', async () => {
      await queue.send(Q, { body: 1, messageId: 'm1' });
      const message = queue.receive(Q)!;
      expect(queue.receive(Q)).toBeUndefined();
      queue.complete(message.lockToken);
      expect(queue.depth(Q)).toEqual({ active: 0, locked: 0, scheduled: 0, deadLettered: 0 });
      expect(() => queue.complete(message.lockToken)).toThrow(/no longer held/);
    });

    it('redelivers an abandoned message with deliveryCount + 1', async () => {
      await queue.send(Q, { body: 1, messageId: 'm1' });
      queue.abandon(queue.receive(Q)!.lockToken, 'Error: first');
      const second = queue.receive(Q)!;
      expect(second.deliveryCount).toBe(2);
      queue.abandon(second.lockToken, 'Error: second');
      expect(queue.receive(Q)!.deliveryCount).toBe(3);
    });

    it('dead-letters with MaxDeliveryCountExceeded and the last error after maxDeliveryCount deliveries', async () => {
      await queue.send(Q, { body: { n: 1 }, messageId: 'poison' });
      for (let attempt = 1; attempt <= 3; attempt += 1) queue.abandon(queue.receive(Q)!.lockToken, `Error: attempt ${attempt}`);
      expect(queue.receive(Q)).toBeUndefined();
      expect(queue.depth(Q)).toMatchObject({ active: 0, deadLettered: 1 });
      const [dead] = queue.listDeadLetters(Q);
      expect(dead).toMatchObject({
        messageId: 'poison',
        body: { n: 1 },
        deliveryCount: 3,
        deadLetterReason: MAX_DELIVERY_COUNT_EXCEEDED,
        deadLetterErrorDescription: 'Error: attempt 3',
      });
    });

    it('dead-letters on request with the given reason and description', async () => {
      await queue.send(Q, { body: 'bad', messageId: 'm1' });
      queue.deadLetter(queue.receive(Q)!.lockToken, 'ValidationFailed', 'field x is missing');
      expect(queue.listDeadLetters(Q)).toEqual([
        expect.objectContaining({ messageId: 'm1', deadLetterReason: 'ValidationFailed', deadLetterErrorDescription: 'field x is missing' }),
      ]);
    });

    it('lets another receiver take a message whose lock expired, counting the lost delivery', async () => {
      await queue.send(Q, { body: 1, messageId: 'm1' });
      const first = queue.receive(Q)!;
      clock.advance(30_001);
      const other = new SqliteQueue(env.db, { clock, maxDeliveryCount: 3, lockDurationMs: 30_000 });
      const second = other.receive(Q)!;
      expect(second.deliveryCount).toBe(2);
      expect(() => queue.complete(first.lockToken)).toThrow(/no longer held/);
      other.complete(second.lockToken);
      other.close();
    });

    it('extends a lock on renewal so that it does not expire', async () => {
      await queue.send(Q, { body: 1, messageId: 'm1' });
      const message = queue.receive(Q)!;
      clock.advance(20_000);
      queue.renewMessageLock(message.lockToken);
      clock.advance(20_000);
      expect(queue.receive(Q)).toBeUndefined();
    });
  });

  describe('send side', () => {
    it('drops a second message with the same id inside the duplicate-detection window', async () => {
      await queue.send(Q, [
        { body: 'first', messageId: 'same' },
        { body: 'second', messageId: 'same' },
      ]);
      clock.advance(599_000);
      await queue.send(Q, { body: 'third', messageId: 'same' });
      expect(queue.depth(Q).active).toBe(1);
      expect(queue.receive(Q)!.body).toBe('first');
    });

    it('accepts the same id again once the window has passed', async () => {
      await queue.send(Q, { body: 'first', messageId: 'same' });
      queue.complete(queue.receive(Q)!.lockToken);
      clock.advance(600_001);
      await queue.send(Q, { body: 'again', messageId: 'same' });
      expect(queue.receive(Q)!.body).toBe('again');
    });

    it('keeps duplicate detection per queue', async () => {
      await queue.send('sync-inbound', { body: 1, messageId: 'same' });
      await queue.send('sync-outbound', { body: 2, messageId: 'same' });
      expect(queue.receive('sync-outbound')!.body).toBe(2);
    });

    it('keeps a scheduled message invisible until its time, then delivers it with that enqueue time', async () => {
      const at = new Date(clock.now().getTime() + 5_000);
      await queue.send(Q, { body: 'later', messageId: 'm1', scheduledEnqueueTime: at });
      expect(queue.receive(Q)).toBeUndefined();
      expect(queue.depth(Q)).toMatchObject({ active: 0, scheduled: 1 });
      expect(queue.nextScheduledAt(Q)).toEqual(at);
      clock.advance(4_999);
      expect(queue.receive(Q)).toBeUndefined();
      clock.advance(1);
      const message = queue.receive(Q)!;
      expect(message.body).toBe('later');
      expect(message.enqueuedTime).toEqual(at);
      expect(queue.nextScheduledAt(Q)).toBeUndefined();
    });

    it('rejects a message without an id, naming the queue', async () => {
      await expect(queue.send(Q, { body: 1, messageId: '' })).rejects.toThrow(/sync-inbound.*no messageId/);
    });

    it('rejects a body that is not JSON-serialisable and sends nothing of the batch', async () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await expect(queue.send(Q, [{ body: 1, messageId: 'ok' }, { body: cyclic, messageId: 'bad' }])).rejects.toMatchObject({ code: 'validation' });
      expect(queue.depth(Q).active).toBe(0);
    });

    it('fails at construction on a bad option, naming it', () => {
      expect(() => new SqliteQueue(env.db, { maxDeliveryCount: 0 })).toThrow(/maxDeliveryCount/);
    });
  });

  describe('sessions', () => {
    it('locks a session for one receiver and hands out its messages in order, one at a time', async () => {
      await queue.send(Q, [1, 2, 3].map((n) => ({ body: n, messageId: `a${n}`, sessionId: 'A' })));
      const session = queue.acceptSession(Q)!;
      expect(session.sessionId).toBe('A');
      expect(queue.acceptSession(Q)).toBeUndefined();
      const first = queue.receiveFromSession(session)!;
      expect(first.body).toBe(1);
      expect(queue.receiveFromSession(session)).toBeUndefined(); // the head is still in flight
      queue.complete(first.lockToken);
      const second = queue.receiveFromSession(session)!;
      expect(second.body).toBe(2);
      queue.complete(second.lockToken);
      queue.complete(queue.receiveFromSession(session)!.lockToken);
      expect(queue.receiveFromSession(session)).toBeUndefined();
    });

    it('moves several sessions in one step: each completes its message and locks its next one', async () => {
      await queue.send(Q, [1, 2, 3].map((n) => ({ body: n, messageId: `a${n}`, sessionId: 'A' })));
      await queue.send(Q, [1, 2].map((n) => ({ body: n * 10, messageId: `b${n}`, sessionId: 'B' })));
      const a = queue.acceptSession(Q)!;
      const b = queue.acceptSession(Q)!;
      const [a1, b1] = queue.stepSessions([{ session: a, receiveNext: true }, { session: b, receiveNext: true }]).map((r) => r.next!);
      expect([a1.body, b1.body]).toEqual([1, 10]);
      const [a2, b2] = queue.stepSessions([
        { session: a, complete: a1.lockToken, receiveNext: true },
        { session: b, complete: b1.lockToken, receiveNext: true },
      ]).map((r) => r.next!);
      expect([a2, b2]).toMatchObject([{ body: 2, deliveryCount: 1 }, { body: 20, deliveryCount: 1 }]);
      expect(queue.depth(Q)).toMatchObject({ active: 3, locked: 2 });
      // B completes and asks for nothing more (a stopping receiver); A completes and finds 3.
      const [stepA, stepB] = queue.stepSessions([
        { session: a, complete: a2.lockToken, receiveNext: true },
        { session: b, complete: b2.lockToken, receiveNext: false },
      ]);
      expect(stepA.next!.body).toBe(3);
      expect(stepB).toEqual({});
      expect(queue.depth(Q)).toMatchObject({ active: 1, locked: 1 });
    });

    it('reports a lost message lock or session lock for its own step and still moves the others', async () => {
      await queue.send(Q, [1, 2].map((n) => ({ body: n, messageId: `a${n}`, sessionId: 'A' })));
      await queue.send(Q, [1, 2].map((n) => ({ body: n * 10, messageId: `b${n}`, sessionId: 'B' })));
      const a = queue.acceptSession(Q)!;
      const b = queue.acceptSession(Q)!;
      const a1 = queue.receiveFromSession(a)!;
      const b1 = queue.receiveFromSession(b)!;
      queue.complete(a1.lockToken); // settled elsewhere: completing it again must fail, and change nothing
      queue.releaseSession(b); // B's lock is gone: it may not lock B's next message
      const [stepA, stepB] = queue.stepSessions([
        { session: a, complete: a1.lockToken, receiveNext: true },
        { session: b, complete: b1.lockToken, receiveNext: true },
      ]);
      expect(stepA.completeError?.message).toMatch(/no longer held/);
      expect(stepA.next!.body).toBe(2); // received all the same
      expect(stepB.completeError).toBeUndefined(); // B's message lock outlives its released session lock
      expect(stepB.receiveError?.message).toMatch(/session "B".*no longer held/);
      expect(queue.depth(Q)).toMatchObject({ active: 2, locked: 1 }); // a2 locked; b2 waits, b1 completed
    });

    it('tells whether a session waits for a receiver', async () => {
      expect(queue.hasWaitingSession(Q)).toBe(false);
      await queue.send(Q, { body: 1, messageId: 'a1', sessionId: 'A' });
      expect(queue.hasWaitingSession(Q)).toBe(true);
      const session = queue.acceptSession(Q)!;
      expect(queue.hasWaitingSession(Q)).toBe(false);
      queue.releaseSession(session);
      expect(queue.hasWaitingSession(Q)).toBe(true);
    });

    it('redelivers an abandoned session message before the ones behind it', async () => {
      await queue.send(Q, [1, 2].map((n) => ({ body: n, messageId: `a${n}`, sessionId: 'A' })));
      const session = queue.acceptSession(Q)!;
      queue.abandon(queue.receiveFromSession(session)!.lockToken, 'boom');
      const again = queue.receiveFromSession(session)!;
      expect(again).toMatchObject({ body: 1, deliveryCount: 2 });
    });

    it('gives a second receiver the next free session while the first is held', async () => {
      await queue.send(Q, [
        { body: 1, messageId: 'a1', sessionId: 'A' },
        { body: 2, messageId: 'b1', sessionId: 'B' },
      ]);
      const other = new SqliteQueue(env.db, { clock });
      const a = queue.acceptSession(Q)!;
      const b = other.acceptSession(Q)!;
      expect([a.sessionId, b.sessionId]).toEqual(['A', 'B']);
      expect(other.acceptSession(Q)).toBeUndefined();
      queue.releaseSession(a);
      expect(other.acceptSession(Q)?.sessionId).toBe('A');
      other.close();
    });

    it('does not hand out a session whose only message is scheduled for later', async () => {
      await queue.send(Q, { body: 1, messageId: 'a1', sessionId: 'A', scheduledEnqueueTime: new Date(clock.now().getTime() + 1_000) });
      expect(queue.acceptSession(Q)).toBeUndefined();
      clock.advance(1_000);
      expect(queue.acceptSession(Q)?.sessionId).toBe('A');
    });

    it('lets another receiver take over a session whose lock expired, and refuses the old holder', async () => {
      await queue.send(Q, { body: 1, messageId: 'a1', sessionId: 'A' });
      const stale = queue.acceptSession(Q)!;
      const inFlight = queue.receiveFromSession(stale)!;
      clock.advance(30_001);
      const other = new SqliteQueue(env.db, { clock, lockDurationMs: 30_000 });
      const taken = other.acceptSession(Q)!;
      expect(taken.sessionId).toBe('A');
      expect(other.receiveFromSession(taken)).toMatchObject({ body: 1, deliveryCount: 2 });
      expect(() => queue.receiveFromSession(stale)).toThrow(/session "A"/);
      expect(() => queue.complete(inFlight.lockToken)).toThrow(/no longer held/);
      other.close();
    });

    it('refuses a holder whose session lock expired even before another receiver takes the session', async () => {
      await queue.send(Q, [{ body: 1, messageId: 'a1', sessionId: 'A' }, { body: 2, messageId: 'a2', sessionId: 'A' }]);
      const stale = queue.acceptSession(Q)!;
      queue.receiveFromSession(stale);
      clock.advance(60_001);
      expect(() => queue.receiveFromSession(stale)).toThrow(/session "A"/);
      const other = new SqliteQueue(env.db, { clock });
      const taken = other.acceptSession(Q)!;
      expect(other.receiveFromSession(taken)).toMatchObject({ body: 1, deliveryCount: 2 });
      other.close();
    });

    it('does not hold a message back behind one of its session scheduled for later', async () => {
      await queue.send(Q, { body: 'later', messageId: 'a1', sessionId: 'A', scheduledEnqueueTime: new Date(clock.now().getTime() + 5_000) });
      await queue.send(Q, { body: 'now', messageId: 'a2', sessionId: 'A' });
      const session = queue.acceptSession(Q)!;
      expect(queue.receiveFromSession(session)).toMatchObject({ body: 'now', enqueuedTime: clock.now() });
    });

    it('does not give session messages to a receiver without sessions', async () => {
      await queue.send(Q, { body: 1, messageId: 'a1', sessionId: 'A' });
      expect(queue.receive(Q)).toBeUndefined();
    });
  });

  describe('a clock stepped back (an NTP correction between two sends)', () => {
    /** Receives and completes everything deliverable now, every free session first, as the local host does. */
    function drainNow(): unknown[] {
      const bodies: unknown[] = [];
      for (let session = queue.acceptSession(Q); session !== undefined; session = queue.acceptSession(Q)) {
        for (let message = queue.receiveFromSession(session); message !== undefined; message = queue.receiveFromSession(session)) {
          bodies.push(message.body);
          queue.complete(message.lockToken);
        }
        queue.releaseSession(session);
      }
      for (let message = queue.receive(Q); message !== undefined; message = queue.receive(Q)) {
        bodies.push(message.body);
        queue.complete(message.lockToken);
      }
      return bodies;
    }

    it('keeps a session in send order', async () => {
      await queue.send(Q, { body: 'A', messageId: 'a', sessionId: 'S' });
      clock.advance(-5_000);
      await queue.send(Q, { body: 'B', messageId: 'b', sessionId: 'S' });
      clock.advance(5_000);
      expect(drainNow()).toEqual(['A', 'B']);
    });

    it('keeps messages without a session in send order', async () => {
      await queue.send(Q, { body: 'A', messageId: 'a' });
      clock.advance(-5_000);
      await queue.send(Q, { body: 'B', messageId: 'b' });
      clock.advance(5_000);
      expect(drainNow()).toEqual(['A', 'B']);
    });

    it('lets nothing overtake: the session waits until the clock is back, and a scheduled message still waits for its time', async () => {
      const before = clock.now().getTime();
      await queue.send(Q, { body: 'A', messageId: 'a', sessionId: 'S' });
      clock.advance(-5_000);
      await queue.send(Q, [
        // Due by the time the queue has already reached (A's): enqueued now, behind A.
        { body: 'due', messageId: 'due', sessionId: 'S', scheduledEnqueueTime: new Date(before - 1_000) },
        { body: 'later', messageId: 'later', sessionId: 'S', scheduledEnqueueTime: new Date(before + 1_000) },
        { body: 'B', messageId: 'b', sessionId: 'S' },
      ]);
      expect(drainNow()).toEqual([]);
      clock.advance(4_999);
      expect(drainNow()).toEqual([]);
      clock.advance(1);
      expect(drainNow()).toEqual(['A', 'due', 'B']);
      clock.advance(999);
      expect(drainNow()).toEqual([]);
      clock.advance(1);
      expect(drainNow()).toEqual(['later']);
    });

    it('keeps a scheduled message that fell due before the step ahead of a message its session sends after it', async () => {
      const start = clock.now().getTime();
      await queue.send(Q, { body: 'H', messageId: 'h', sessionId: 'S' });
      const session = queue.acceptSession(Q)!;
      const inFlight = queue.receiveFromSession(session)!; // H's handler runs while A falls due
      await queue.send(Q, { body: 'A', messageId: 'a', sessionId: 'S', scheduledEnqueueTime: new Date(start + 1_000) });
      clock.advance(2_000);
      queue.renewMessageLock(inFlight.lockToken); // as the host does while a handler runs: the queue has seen A due
      queue.renewSessionLock(session);
      clock.advance(-5_000);
      await queue.send(Q, { body: 'B', messageId: 'b', sessionId: 'S' });
      queue.complete(inFlight.lockToken);
      // Each delivery noted with the clock's time relative to the start: A's time (+1000) is still
      // its time, so both wait until the clock is back there (a wait, not a reorder).
      const delivered: string[] = [];
      const note = (body: unknown) => delivered.push(`${String(body)} at ${clock.now().getTime() - start}`);
      for (let message = queue.receiveFromSession(session); message !== undefined; message = queue.receiveFromSession(session)) {
        note(message.body);
        queue.complete(message.lockToken);
      }
      queue.releaseSession(session);
      drainNow().forEach(note);
      clock.advance(3_999);
      drainNow().forEach(note);
      clock.advance(1);
      drainNow().forEach(note);
      expect(delivered).toEqual(['A at 1000', 'B at 1000']);
    });

    it('keeps a scheduled message without a session that fell due before the step ahead of one sent after it', async () => {
      const start = clock.now().getTime();
      await queue.send(Q, { body: 'A', messageId: 'a', scheduledEnqueueTime: new Date(start + 1_000) });
      clock.advance(2_000);
      expect(queue.depth(Q)).toMatchObject({ active: 1, scheduled: 0 }); // the queue has seen A due (every receiver busy)
      clock.advance(-5_000);
      await queue.send(Q, { body: 'B', messageId: 'b' });
      const delivered = drainNow();
      clock.advance(4_000); // back at A's time
      delivered.push(...drainNow());
      expect(delivered).toEqual(['A', 'B']);
    });

    it('still lets a message pass one of its session scheduled for a time the queue has not reached', async () => {
      const start = clock.now().getTime();
      await queue.send(Q, { body: 'A', messageId: 'a', sessionId: 'S', scheduledEnqueueTime: new Date(start + 10_000) });
      clock.advance(2_000);
      expect(drainNow()).toEqual([]);
      clock.advance(-5_000);
      await queue.send(Q, { body: 'B', messageId: 'b', sessionId: 'S' });
      expect(drainNow()).toEqual(['B']);
      clock.advance(13_000);
      expect(drainNow()).toEqual(['A']);
    });
  });

  describe('crash safety', () => {
    it('upgrades a file from before queue_active_sessions: its waiting session messages can be received', async () => {
      await queue.send(Q, [{ body: 'waiting since the old build', messageId: 'm1', sessionId: 'A' }]);
      // The old shape: sessions were tracked in queue_sessions, queue_active_sessions did not exist.
      env.db.exec('DROP TABLE queue_active_sessions; CREATE TABLE queue_sessions (queue TEXT, session_id TEXT)');
      env.db.close();

      const db = openDatabase(env.dbPath);
      const upgraded = new SqliteQueue(db, { clock, lockDurationMs: 30_000 });
      const session = upgraded.acceptSession(Q);
      expect(session?.sessionId).toBe('A');
      expect(upgraded.receiveFromSession(session!)).toMatchObject({ body: 'waiting since the old build', deliveryCount: 1 });
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'queue_sessions'").get()).toBeUndefined();
      upgraded.close();
      db.close();
    });

    it('keeps sent and in-flight messages in the file: a new instance redelivers them with deliveryCount + 1', async () => {
      await queue.send(Q, [
        { body: 'in flight', messageId: 'm1', sessionId: 'A' },
        { body: 'waiting', messageId: 'm2', sessionId: 'A' },
      ]);
      const session = queue.acceptSession(Q)!;
      expect(queue.receiveFromSession(session)!.deliveryCount).toBe(1);
      env.db.close(); // the process "dies" holding the session and the message lock

      const db = openDatabase(env.dbPath);
      const restarted = new SqliteQueue(db, { clock, lockDurationMs: 30_000 });
      expect(restarted.releaseOrphanedLocks()).toBe(2);
      const resumed = restarted.acceptSession(Q)!;
      const first = restarted.receiveFromSession(resumed)!;
      expect(first).toMatchObject({ body: 'in flight', deliveryCount: 2 });
      restarted.complete(first.lockToken);
      expect(restarted.receiveFromSession(resumed)).toMatchObject({ body: 'waiting', deliveryCount: 1 });
      restarted.close();
      db.close();
    });

    it('does not release locks of an instance that is still open', async () => {
      await queue.send(Q, { body: 1, messageId: 'm1' });
      queue.receive(Q);
      const other = new SqliteQueue(env.db, { clock });
      expect(other.releaseOrphanedLocks()).toBe(0);
      expect(other.receive(Q)).toBeUndefined();
      other.close();
    });

    it('releases the locks of an owner by prefix', async () => {
      await queue.send(Q, { body: 1, messageId: 'm1' });
      queue.receive(Q);
      expect(queue.releaseLocksOf(queue.ownerId)).toBe(1);
      expect(queue.receive(Q)!.deliveryCount).toBe(2);
    });
  });

  it('wakes a session listener only for messages of its own session', async () => {
    const woken: number[] = [];
    const unsubscribe = queue.onSessionActivity(Q, 'A', () => woken.push(1));
    await queue.send(Q, [
      { body: 1, messageId: 'a1', sessionId: 'A' },
      { body: 2, messageId: 'a2', sessionId: 'A' },
    ]);
    await queue.send(Q, { body: 1, messageId: 'b1', sessionId: 'B' });
    await queue.send('sync-outbound', { body: 1, messageId: 'a1', sessionId: 'A' });
    unsubscribe();
    await queue.send(Q, { body: 3, messageId: 'a3', sessionId: 'A' });
    expect(woken).toEqual([1]); // one wake per send that carried messages of A on this queue
  });

  it('wakes an in-process listener when a message is sent to its queue', async () => {
    const woken: string[] = [];
    const other = new SqliteQueue(env.db, { clock });
    const unsubscribe = other.onActivity(Q, () => woken.push(Q));
    await queue.send(Q, { body: 1, messageId: 'm1' });
    await queue.send('sync-outbound', { body: 1, messageId: 'm1' });
    unsubscribe();
    await queue.send(Q, { body: 1, messageId: 'm2' });
    expect(woken).toEqual([Q]);
    other.close();
  });
});
