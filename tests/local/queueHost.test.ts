import type { InvocationContext, ServiceBusQueueHandler } from '@azure/functions';
import type { FunctionDefinition } from '../../functions/definition';
import { startLocalHost, type LocalHostOptions, type RunningLocalHost } from '../../local/host';
import { openDatabase } from '../../shared/platform/local/database';
import { MAX_DELIVERY_COUNT_EXCEEDED, SqliteQueue, type SqliteQueueOptions } from '../../shared/platform/local/sqliteQueue';
import { enableTurnCommit } from '../../shared/platform/local/turnCommit';
import { deferred, openTempDatabase, sleep, waitFor } from './helpers';

const Q = 'sync-inbound';

function worker(handler: ServiceBusQueueHandler, isSessionsEnabled = true, queueName = Q): FunctionDefinition {
  return { kind: 'serviceBusQueue', name: 'worker', options: { connection: 'ServiceBusConnection', queueName, isSessionsEnabled, handler } };
}

interface Delivery {
  body: unknown;
  messageId: string;
  sessionId?: string;
  deliveryCount: number;
  at: number;
}

function deliveryOf(body: unknown, context: InvocationContext): Delivery {
  const meta = context.triggerMetadata ?? {};
  return {
    body,
    messageId: meta.messageId as string,
    ...(typeof meta.sessionId === 'string' ? { sessionId: meta.sessionId } : {}),
    deliveryCount: meta.deliveryCount as number,
    at: Date.now(),
  };
}

/** A handler that signals when it runs and then waits until released. */
function blockingHandler() {
  const entered = deferred();
  const release = deferred();
  const handler: ServiceBusQueueHandler = async () => {
    entered.resolve();
    await release.promise;
  };
  return { handler, entered, release };
}

describe('local host: Service Bus queue trigger', () => {
  let env: ReturnType<typeof openTempDatabase>;
  let queue: SqliteQueue;
  let host: RunningLocalHost | undefined;
  const lines: string[] = [];

  function setUp(options: SqliteQueueOptions = {}) {
    env = openTempDatabase();
    queue = new SqliteQueue(env.db, options);
  }
  async function start(functions: FunctionDefinition[], options: Partial<LocalHostOptions> = {}) {
    host = await startLocalHost({ functions, queue, port: 0, log: (line) => lines.push(line), ...options });
    return host;
  }

  beforeEach(() => setUp({ maxDeliveryCount: 3 }));
  afterEach(async () => {
    await host?.stop();
    host = undefined;
    queue.close();
    env.cleanup();
    lines.length = 0;
  });

  it('hands each session its messages in order, one at a time, while sessions run in parallel', async () => {
    const seen: Delivery[] = [];
    const runningPerSession = new Map<string, number>();
    let running = 0;
    let maxRunning = 0;
    let maxPerSession = 0;
    await start([
      worker(async (body, context) => {
        const delivery = deliveryOf(body, context);
        const session = delivery.sessionId!;
        runningPerSession.set(session, (runningPerSession.get(session) ?? 0) + 1);
        running += 1;
        maxPerSession = Math.max(maxPerSession, runningPerSession.get(session)!);
        maxRunning = Math.max(maxRunning, running);
        await sleep(20);
        seen.push(delivery);
        runningPerSession.set(session, runningPerSession.get(session)! - 1);
        running -= 1;
      }),
    ]);
    const sessions = ['conn-a', 'conn-b', 'conn-c'];
    for (let n = 1; n <= 6; n += 1) {
      await queue.send(Q, sessions.map((s) => ({ body: { n }, messageId: `${s}:${n}`, sessionId: s })));
    }
    await waitFor(() => seen.length === 18, 10_000, 'all 18 messages');
    for (const s of sessions) {
      expect(seen.filter((d) => d.sessionId === s).map((d) => (d.body as { n: number }).n)).toEqual([1, 2, 3, 4, 5, 6]);
    }
    expect(maxPerSession).toBe(1);
    expect(maxRunning).toBeGreaterThan(1);
    // Completions commit at the end of the turn in which the handlers returned.
    await waitFor(() => queue.depth(Q).active === 0, 1_000, 'every message completed');
    expect(queue.depth(Q)).toMatchObject({ active: 0, locked: 0 });
  });

  it('moves the sessions that finish in the same turn in one transaction', async () => {
    const calls: number[] = [];
    const stepSessions = queue.stepSessions.bind(queue);
    queue.stepSessions = (steps) => {
      calls.push(steps.length);
      return stepSessions(steps);
    };
    const handled: string[] = [];
    await start([worker(async (_body, context) => void handled.push(String(context.triggerMetadata?.messageId)))]);
    const sessions = ['s1', 's2', 's3', 's4'];
    // One send wakes all four sessions at once: their first locks, and then their completions
    // (the handlers finish in the same turn), each go through one stepSessions call.
    await queue.send(Q, sessions.map((s) => ({ body: {}, messageId: `${s}:1`, sessionId: s })));
    await waitFor(() => handled.length === 4 && queue.depth(Q).active === 0, 5_000, 'all four handled and completed');
    expect(Math.max(...calls)).toBe(4);
    expect(calls.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(8); // every session: a lock, then a completion
  });

  it('holds at most maxConcurrentSessions sessions at once', async () => {
    let running = 0;
    let maxRunning = 0;
    let done = 0;
    await start(
      [
        worker(async () => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          await sleep(30);
          running -= 1;
          done += 1;
        }),
      ],
      { maxConcurrentSessions: 2 },
    );
    await queue.send(Q, ['a', 'b', 'c', 'd', 'e'].map((s) => ({ body: s, messageId: s, sessionId: s })));
    await waitFor(() => done === 5, 5_000, 'five sessions');
    expect(maxRunning).toBe(2);
  });

  const sessionLock = (sessionId: string) =>
    (env.db.prepare('SELECT lock_token FROM queue_active_sessions WHERE session_id = ?').get(sessionId) as { lock_token: string | null } | undefined)?.lock_token ?? null;

  it('keeps a session with nothing to deliver for sessionIdleMs, delivering what arrives meanwhile, then gives it back', async () => {
    const seen: unknown[] = [];
    await start([worker((body) => void seen.push(body))], { sessionIdleMs: 600, queuePollIntervalMs: 60_000 });
    await queue.send(Q, { body: 1, messageId: 'm1', sessionId: 's' });
    await waitFor(() => seen.length === 1, 2_000, 'first message');
    const heldBy = sessionLock('s');
    expect(heldBy).not.toBeNull(); // idle, still held
    await queue.send(Q, { body: 2, messageId: 'm2', sessionId: 's' });
    await waitFor(() => seen.length === 2, 1_000, 'second message, under the same session lock');
    expect(sessionLock('s')).toBe(heldBy);
    await waitFor(() => sessionLock('s') === null, 3_000, 'the session given back after sessionIdleMs');
    expect(seen).toEqual([1, 2]);
    expect(queue.depth(Q)).toMatchObject({ active: 0, locked: 0 });
  });

  it('gives an idle session back at once when the pump is full and another session waits', async () => {
    const seen: string[] = [];
    await start([worker((_body, context) => void seen.push(context.triggerMetadata!.sessionId as string))], {
      maxConcurrentSessions: 1,
      sessionIdleMs: 30_000,
      queuePollIntervalMs: 60_000,
    });
    await queue.send(Q, { body: 1, messageId: 'a1', sessionId: 'a' });
    await waitFor(() => seen.length === 1, 2_000, 'session a');
    const sentAt = Date.now();
    await queue.send(Q, { body: 1, messageId: 'b1', sessionId: 'b' });
    await waitFor(() => seen.length === 2, 5_000, 'session b');
    expect(Date.now() - sentAt).toBeLessThan(2_000); // not after a's 30 s idle time
    expect(seen).toEqual(['a', 'b']);
  });

  it('gives idle sessions back at once on stop, and at once after each message with sessionIdleMs 0', async () => {
    const seen: unknown[] = [];
    await start([worker((body) => void seen.push(body))], { sessionIdleMs: 30_000 });
    await queue.send(Q, { body: 1, messageId: 'm1', sessionId: 's' });
    await waitFor(() => seen.length === 1, 2_000, 'message');
    const stopStarted = Date.now();
    await host!.stop();
    host = undefined;
    expect(Date.now() - stopStarted).toBeLessThan(2_000);
    expect(sessionLock('s')).toBeNull();

    await start([worker((body) => void seen.push(body))], { sessionIdleMs: 0 });
    await queue.send(Q, { body: 2, messageId: 'm2', sessionId: 's' });
    await waitFor(() => seen.length === 2 && sessionLock('s') === null, 2_000, 'message, then the session given back');
  });

  it('runs messages without sessions as competing consumers, up to maxConcurrentCalls', async () => {
    const seen: string[] = [];
    let running = 0;
    let maxRunning = 0;
    await start(
      [
        worker(async (_body, context) => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          await sleep(30);
          seen.push(context.triggerMetadata?.messageId as string);
          running -= 1;
        }, false),
      ],
      { maxConcurrentCalls: 3 },
    );
    await queue.send(Q, Array.from({ length: 9 }, (_, i) => ({ body: i, messageId: `m${i}` })));
    await waitFor(() => seen.length === 9, 5_000, 'nine messages');
    expect(new Set(seen).size).toBe(9);
    expect(maxRunning).toBe(3);
  });

  it('gives the handler the parsed body and the Service Bus trigger metadata', async () => {
    const received = deferred<{ body: unknown; meta: Record<string, unknown> }>();
    await start([worker((body, context) => received.resolve({ body, meta: context.triggerMetadata ?? {} }))]);
    await queue.send(Q, { body: { runId: 'r1', page: 2 }, messageId: 'r1:contacts:2', sessionId: 'conn-1', applicationProperties: { kind: 'step' } });
    const { body, meta } = await received.promise;
    expect(body).toEqual({ runId: 'r1', page: 2 });
    expect(meta).toMatchObject({
      messageId: 'r1:contacts:2',
      sessionId: 'conn-1',
      deliveryCount: 1,
      sequenceNumber: expect.any(Number),
      applicationProperties: { kind: 'step' },
      lockToken: expect.any(String),
    });
    expect(new Date(meta.enqueuedTimeUtc as string).getTime()).toBeGreaterThan(Date.now() - 10_000);
  });

  it('redelivers after a throw with deliveryCount 2, 3, then dead-letters with the error', async () => {
    const counts: number[] = [];
    await start([
      worker((_body, context) => {
        counts.push(context.triggerMetadata?.deliveryCount as number);
        throw new Error(`provider answered 500 on attempt ${counts.length}`);
      }),
    ]);
    await queue.send(Q, { body: 'poison', messageId: 'p1', sessionId: 's1' });
    await waitFor(() => queue.depth(Q).deadLettered === 1, 5_000, 'the dead letter');
    expect(counts).toEqual([1, 2, 3]);
    expect(queue.listDeadLetters(Q)).toEqual([
      expect.objectContaining({
        messageId: 'p1',
        deliveryCount: 3,
        deadLetterReason: MAX_DELIVERY_COUNT_EXCEEDED,
        deadLetterErrorDescription: 'Error: provider answered 500 on attempt 3',
      }),
    ]);
    expect(lines.filter((l) => l.includes("Executed 'worker' (Failed"))).toHaveLength(3);
  });

  it('completes a message whose handler succeeds on a retry, keeping the session order', async () => {
    const seen: string[] = [];
    let failuresLeft = 1;
    await start([
      worker((body, context) => {
        if (body === 'first' && failuresLeft-- > 0) throw new Error('transient');
        seen.push(`${String(body)}#${String(context.triggerMetadata?.deliveryCount)}`);
      }),
    ]);
    await queue.send(Q, [
      { body: 'first', messageId: 'm1', sessionId: 's' },
      { body: 'second', messageId: 'm2', sessionId: 's' },
    ]);
    await waitFor(() => seen.length === 2, 5_000, 'both messages');
    expect(seen).toEqual(['first#2', 'second#1']);
    expect(queue.depth(Q)).toMatchObject({ active: 0, deadLettered: 0 });
  });

  it('does not deliver a scheduled message before its time', async () => {
    const delivered = deferred<number>();
    await start([worker(() => delivered.resolve(Date.now()))]);
    const at = new Date(Date.now() + 1_200);
    await queue.send(Q, { body: 'later', messageId: 'm1', sessionId: 's', scheduledEnqueueTime: at });
    const deliveredAt = await delivered.promise;
    expect(deliveredAt).toBeGreaterThanOrEqual(at.getTime());
    expect(deliveredAt - at.getTime()).toBeLessThan(2_000);
  });

  it('drops a duplicate message id sent within the window', async () => {
    const seen: unknown[] = [];
    await start([worker((body) => void seen.push(body))]);
    await queue.send(Q, { body: 'original', messageId: 'same', sessionId: 's' });
    await waitFor(() => seen.length === 1, 2_000, 'the original');
    await queue.send(Q, { body: 'duplicate', messageId: 'same', sessionId: 's' });
    await sleep(400);
    expect(seen).toEqual(['original']);
  });

  it('wakes at once on an in-process send, without waiting for the poll', async () => {
    const delivered = deferred<number>();
    await start([worker(() => delivered.resolve(Date.now()))], { queuePollIntervalMs: 60_000 });
    await sleep(50);
    const sentAt = Date.now();
    await queue.send(Q, { body: 1, messageId: 'm1', sessionId: 's' });
    expect((await delivered.promise) - sentAt).toBeLessThan(1_000); // the poll is 60 s away
  });

  it('waits on stop for a handler in flight, then completes its message', async () => {
    const { handler, entered, release } = blockingHandler();
    await start([worker(handler)]);
    await queue.send(Q, { body: 1, messageId: 'm1', sessionId: 's' });
    await entered.promise;
    let stopped = false;
    const stopping = host!.stop().then(() => (stopped = true));
    await sleep(100);
    expect(stopped).toBe(false);
    release.resolve();
    await stopping;
    expect(queue.depth(Q)).toMatchObject({ active: 0, locked: 0 });
  });

  it('on stop, completes the message that was running and locks none behind it', async () => {
    const { handler, entered, release } = blockingHandler();
    await start([worker(handler)], { sessionIdleMs: 30_000 });
    await queue.send(Q, [1, 2].map((n) => ({ body: n, messageId: `m${n}`, sessionId: 's' })));
    await entered.promise;
    const stopping = host!.stop();
    release.resolve();
    await stopping;
    host = undefined;
    const next = new SqliteQueue(env.db);
    const session = next.acceptSession(Q)!;
    // The second message never ran: its first delivery is still to come.
    expect(next.receiveFromSession(session)).toMatchObject({ body: 2, deliveryCount: 1 });
    next.close();
  });

  it('releases the locks of a handler that outlives the stop timeout, so a new host gets the message again', async () => {
    const entered = deferred();
    await start([worker(() => (entered.resolve(), new Promise(() => undefined)))], { stopTimeoutMs: 100 });
    await queue.send(Q, { body: 'stuck', messageId: 'm1', sessionId: 's' });
    await entered.promise;
    await host!.stop();
    expect(lines.some((l) => l.includes('still running after 100 ms'))).toBe(true);

    const again = deferred<Delivery>();
    host = await startLocalHost({ functions: [worker((body, context) => again.resolve(deliveryOf(body, context)))], queue, port: 0, log: () => undefined });
    expect(await again.promise).toMatchObject({ body: 'stuck', deliveryCount: 2 });
  });

  it('delivers after a crash: messages sent and one in flight survive in the file', async () => {
    await queue.send(Q, [
      { body: 'was in flight', messageId: 'm1', sessionId: 's' },
      { body: 'was waiting', messageId: 'm2', sessionId: 's' },
    ]);
    const session = queue.acceptSession(Q)!;
    queue.receiveFromSession(session);
    env.db.close(); // the process dies mid-message: nothing is completed or released

    const db = openDatabase(env.dbPath);
    const reopened = new SqliteQueue(db, { maxDeliveryCount: 3 });
    const seen: Delivery[] = [];
    host = await startLocalHost({ functions: [worker((body, context) => void seen.push(deliveryOf(body, context)))], queue: reopened, port: 0, log: () => undefined });
    await waitFor(() => seen.length === 2, 3_000, 'both messages after the restart');
    expect(seen.map((d) => [d.body, d.deliveryCount])).toEqual([
      ['was in flight', 2],
      ['was waiting', 1],
    ]);
    await host.stop();
    host = undefined;
    reopened.close();
    db.close();
  });
});

/** The host on a handle that commits once per event-loop turn, as the local platform's is. */
describe('local host: queue trigger on a per-turn commit handle', () => {
  let env: ReturnType<typeof openTempDatabase>;
  let queue: SqliteQueue;
  let observer: ReturnType<typeof openDatabase>;
  let host: RunningLocalHost | undefined;

  beforeEach(() => {
    env = openTempDatabase();
    enableTurnCommit(env.db);
    env.db.exec('CREATE TABLE notes (text TEXT)');
    queue = new SqliteQueue(env.db, { maxDeliveryCount: 3 });
    observer = openDatabase(env.dbPath); // a second connection sees only what is committed
  });
  afterEach(async () => {
    await host?.stop();
    host = undefined;
    queue.close();
    observer.close();
    env.cleanup();
  });

  it('resolves stop() only once its last completion and released locks are committed', async () => {
    const running = deferred();
    const release = deferred();
    host = await startLocalHost({
      functions: [worker(async () => {
        running.resolve();
        await release.promise;
      })],
      queue, port: 0, log: () => undefined,
    });
    await queue.send(Q, [{ body: 'a', messageId: 'm1', sessionId: 's' }, { body: 'b', messageId: 'm2', sessionId: 's' }]);
    await running.promise;
    const stopped = host.stop();
    release.resolve();
    await stopped;
    host = undefined;
    const locked = observer.prepare('SELECT message_id AS id FROM queue_messages WHERE lock_token IS NOT NULL UNION ALL SELECT session_id FROM queue_active_sessions WHERE lock_token IS NOT NULL').all();
    expect(locked).toEqual([]);
    expect(observer.prepare('SELECT message_id AS id FROM queue_messages').all()).toEqual([{ id: 'm2' }]);
  });

  for (const isSessionsEnabled of [true, false]) {
    const kind = isSessionsEnabled ? 'session' : 'plain';

    it(`runs a handler only once its message's lock and delivery count are committed (${kind} queue)`, async () => {
      const countSeen = deferred<unknown>();
      const committedCount = () => observer.prepare('SELECT delivery_count AS n FROM queue_messages WHERE message_id = ?').get('m1');
      host = await startLocalHost({
        functions: [worker(() => countSeen.resolve(committedCount()), isSessionsEnabled)],
        queue, port: 0, log: () => undefined,
      });
      await queue.send(Q, [{ body: 'poison', messageId: 'm1', ...(isSessionsEnabled ? { sessionId: 's' } : {}) }]);
      // Were the handler to kill the process now, the count it sees is the one a restart finds.
      expect(await countSeen.promise).toEqual({ n: 1 });
    });

    it(`delivers again, and does not complete, a message whose handler's turn SQLite rolled back (${kind} queue)`, async () => {
      const seen: Delivery[] = [];
      const done = deferred();
      host = await startLocalHost({
        functions: [worker(async (body, context) => {
          seen.push(deliveryOf(body, context));
          env.db.prepare('INSERT INTO notes (text) VALUES (?)').run(`delivery ${seen.length}`);
          if (seen.length === 1) env.db.exec('ROLLBACK'); // what SQLite does itself on an I/O error or a full disk
          else done.resolve();
        }, isSessionsEnabled)],
        queue, port: 0, log: () => undefined,
      });
      await queue.send(Q, [{ body: 'work', messageId: 'm1', ...(isSessionsEnabled ? { sessionId: 's' } : {}) }]);
      await waitFor(() => seen.length === 2, 3_000, 'the second delivery');
      await done.promise;
      await waitFor(() => queue.depth(Q).active === 0, 3_000, 'the message to be completed');
      expect(seen.map((d) => d.deliveryCount)).toEqual([1, 2]);
      expect(observer.prepare('SELECT text FROM notes').all()).toEqual([{ text: 'delivery 2' }]);
    });
  }
});
