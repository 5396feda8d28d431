import type { ServiceBusQueueFunctionOptions } from '@azure/functions';
import { SyncBridgeError } from '../shared/core/errors';
import type { ReceivedMessage, SessionLock, SessionStep, SqliteQueue } from '../shared/platform/local/sqliteQueue';
import { SessionStepBatch } from './sessionStepBatch';
import { createInvocationContext, describeError, errorMessage, hostLine, type FunctionLogLevel, type HostLog, type InFlightInvocations } from './invocation';

export interface ServiceBusQueueFunction {
  name: string;
  options: ServiceBusQueueFunctionOptions;
}

export interface QueueDispatcherOptions {
  functions: readonly ServiceBusQueueFunction[];
  queue: SqliteQueue;
  /** Sessions held at once per session-enabled function (host.json serviceBus.maxConcurrentSessions). */
  maxConcurrentSessions: number;
  /** Messages processed at once per function without sessions (host.json serviceBus.maxConcurrentCalls). */
  maxConcurrentCalls: number;
  /** How often to look for messages sent by other processes; in-process sends wake at once. */
  pollIntervalMs: number;
  /**
   * How long a held session with nothing to deliver waits for its next message before it is given
   * back (the Service Bus extension's sessionIdleTimeout). 0 gives it back at once. It is given
   * back at once, too, when the pump is full and another session waits for a receiver.
   */
  sessionIdleMs: number;
  log: HostLog;
  /** Log an "Executed … (Succeeded …)" line per successful invocation; failures are always logged. */
  logInvocations: boolean;
  /** context.log calls below this level are dropped. */
  functionLogLevel: FunctionLogLevel;
  inFlight: InFlightInvocations;
}

interface PumpOptions extends QueueDispatcherOptions {
  steps: SessionStepBatch;
}

/**
 * host.json's maxAutoLockRenewalDuration (tests/infra/drift.test.ts keeps them equal): locks are
 * renewed up to this long, which outlasts functionTimeout so that a session is never taken from a
 * handler that is still running (docs/host-json.md).
 */
export const MAX_AUTO_LOCK_RENEWAL_MS = 10.5 * 60_000;

/**
 * The Service Bus queue trigger on SqliteQueue: one pump per function. Without sessions the pump
 * keeps up to maxConcurrentCalls messages in flight (competing consumers); with sessions it holds
 * up to maxConcurrentSessions sessions, and each session hands its messages to the handler one at
 * a time, in order, releasing the session when it has had nothing more to deliver for
 * sessionIdleMs (at once if other sessions wait for a slot). After a success, the message is
 * completed and the session's next one locked in one step, and the steps of all sessions that
 * move in the same event-loop turn commit together (sessionStepBatch.ts).
 *
 * Settlement is the extension's autoComplete: the handler returns → complete; it throws →
 * abandon, so the message comes back with deliveryCount + 1 and is dead-lettered after the
 * queue's maxDeliveryCount. Locks are renewed while a handler runs.
 */
export class QueueDispatcher {
  private readonly pumps: QueuePump[];

  constructor(private readonly options: QueueDispatcherOptions) {
    const steps = new SessionStepBatch(options.queue);
    this.pumps = options.functions.map((fn) => {
      if (fn.options.cardinality === 'many') {
        throw new SyncBridgeError('configuration', `Function "${fn.name}": the local host delivers Service Bus messages one at a time; cardinality 'many' is not supported.`);
      }
      return new QueuePump(fn, { ...options, steps });
    });
  }

  start(): void {
    for (const pump of this.pumps) pump.start();
  }

  /** Stops taking new messages and sessions; invocations in flight go on (the host drains them). */
  async stopReceiving(): Promise<void> {
    await Promise.all(this.pumps.map((pump) => pump.stopReceiving()));
  }

  /** Gives back every session and message lock still held, so that another host resumes at once. */
  releaseLocks(): void {
    for (const pump of this.pumps) pump.releaseSessions();
    this.options.queue.releaseLocksOf(this.options.queue.ownerId);
  }
}

class QueuePump {
  private active = 0;
  private stopped = false;
  /** Set when the host gave up on invocations still running: their locks are no longer ours. */
  private locksReleased = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly heldSessions = new Set<SessionLock>();
  /** Sessions waiting for their next message, longest idle first; calling one gives its session back. */
  private readonly idleWaiters = new Set<() => void>();
  private readonly queueName: string;
  private readonly sessions: boolean;
  private readonly limit: number;

  constructor(
    private readonly fn: ServiceBusQueueFunction,
    private readonly options: PumpOptions,
  ) {
    this.queueName = fn.options.queueName;
    this.sessions = fn.options.isSessionsEnabled === true;
    this.limit = this.sessions ? options.maxConcurrentSessions : options.maxConcurrentCalls;
  }

  start(): void {
    this.unsubscribe = this.options.queue.onActivity(this.queueName, () => {
      this.makeRoomIfFull();
      this.poke();
    });
    this.loop = this.run();
  }

  /**
   * When every slot is taken and some are only idling, a session that waits for a receiver gets
   * one: the longest-idle session is given back (one check per send, not one per idle session).
   */
  private makeRoomIfFull(): void {
    if (this.idleWaiters.size === 0 || this.active < this.limit) return;
    if (!this.options.queue.hasWaitingSession(this.queueName)) return;
    const longestIdle = this.idleWaiters.values().next().value;
    longestIdle?.();
  }

  async stopReceiving(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.poke();
    for (const wake of [...this.idleWaiters]) wake();
    await this.loop;
  }

  releaseSessions(): void {
    this.locksReleased = true;
    for (const session of this.heldSessions) this.release(session);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.active >= this.limit) {
        await this.sleep(this.options.pollIntervalMs);
        continue;
      }
      let waitMs: number | undefined;
      try {
        const started = this.sessions ? this.startSession() : this.startMessage();
        if (!started) waitMs = Math.max(1, this.idleWaitMs());
      } catch (error) {
        // A locked or unreadable database must not kill the pump: log, back off, try again.
        this.options.log(hostLine('error', `Receiving from queue '${this.queueName}' for '${this.fn.name}' failed: ${describeError(error)}`));
        waitMs = this.options.pollIntervalMs;
      }
      if (waitMs !== undefined) await this.sleep(waitMs);
    }
  }

  private startMessage(): boolean {
    const message = this.options.queue.receive(this.queueName);
    if (message === undefined) return false;
    this.begin(this.invoke(message));
    return true;
  }

  private startSession(): boolean {
    const session = this.options.queue.acceptSession(this.queueName);
    if (session === undefined) return false;
    this.heldSessions.add(session);
    this.begin(this.drainSession(session));
    return true;
  }

  private begin(work: Promise<unknown>): void {
    this.active += 1;
    void this.options.inFlight.track(
      work.finally(() => {
        this.active -= 1;
        this.poke();
      }),
    );
  }

  /**
   * Hands the session's messages to the handler one at a time, in order. Each move (lock the first
   * message; complete a handled one and lock the next) goes through the turn's step batch, so the
   * sessions that move in one event-loop turn share one commit.
   */
  private async drainSession(session: SessionLock): Promise<void> {
    try {
      let step: SessionStep = { session, receiveNext: true };
      let handled: ReceivedMessage | undefined;
      for (;;) {
        const result = await this.options.steps.run(step);
        if (handled !== undefined) {
          // The lock was lost (expired and taken, or released at stop): the message comes back anyway.
          if (result.completeError) this.options.log(hostLine('warning', `Settling message '${handled.messageId}' failed: ${errorMessage(result.completeError)}`));
          else this.logSucceeded(handled);
        }
        if (result.receiveError) throw result.receiveError;
        if (!step.receiveNext) break;
        const message = result.next;
        if (message === undefined) {
          if (!(await this.awaitSessionActivity(session))) break;
          step = { session, receiveNext: true };
          handled = undefined;
          continue;
        }
        const succeeded = await this.invoke(message, session);
        // Stopping: settle what ran, lock nothing more (a lock would count a delivery that never ran).
        const receiveNext = !this.stopped;
        if (!succeeded && !receiveNext) break;
        step = succeeded ? { session, complete: message.lockToken, receiveNext } : { session, receiveNext };
        handled = succeeded ? message : undefined;
      }
    } catch (error) {
      this.options.log(hostLine('warning', `Session '${session.sessionId}' of queue '${this.queueName}' ended: ${errorMessage(error)}`));
    } finally {
      this.release(session);
    }
  }

  /**
   * Waits up to sessionIdleMs for a message of this session sent in this process. False (give the
   * session back) at once when idling is off, the host stops, or the pump is full and another
   * session waits for a receiver.
   */
  private awaitSessionActivity(session: SessionLock): Promise<boolean> {
    const { queue, sessionIdleMs: idleMs } = this.options;
    if (idleMs <= 0 || this.stopped || this.locksReleased) return Promise.resolve(false);
    if (this.active >= this.limit && queue.hasWaitingSession(this.queueName)) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (more: boolean) => {
        clearTimeout(timer);
        offSession();
        this.idleWaiters.delete(stop);
        resolve(more && !this.stopped);
      };
      const stop = () => finish(false);
      const timer = setTimeout(() => finish(false), idleMs);
      const offSession = queue.onSessionActivity(this.queueName, session.sessionId, () => finish(true));
      this.idleWaiters.add(stop);
    });
  }

  private release(session: SessionLock): void {
    if (!this.heldSessions.delete(session)) return;
    try {
      this.options.queue.releaseSession(session);
    } catch (error) {
      this.options.log(hostLine('warning', `Releasing session '${session.sessionId}' failed: ${errorMessage(error)}`));
    }
  }

  /**
   * Runs the handler. A failure is settled here (abandon); a success is completed here too, except
   * in a session, whose drain loop completes it together with receiving the next message.
   * Resolves whether the handler succeeded.
   */
  private async invoke(message: ReceivedMessage, session?: SessionLock): Promise<boolean> {
    const queue = this.options.queue;
    // The lock and the raised delivery count are committed before the handler runs: a message whose
    // handler kills the process in its first turn is counted, and dead-letters after
    // maxDeliveryCount crashes instead of coming back as delivery 1 forever.
    try {
      await queue.whenDurable();
    } catch (error) {
      this.options.log(hostLine('warning', `Receiving message '${message.messageId}' was rolled back: ${errorMessage(error)}`));
      return false;
    }
    const context = createInvocationContext(this.fn.name, this.options.log, triggerMetadataOf(message), this.options.functionLogLevel);
    const startedAt = performance.now();
    const renewal = setInterval(() => {
      if (this.locksReleased || performance.now() - startedAt > MAX_AUTO_LOCK_RENEWAL_MS) {
        clearInterval(renewal);
        return;
      }
      try {
        queue.renewMessageLock(message.lockToken);
        if (session !== undefined) queue.renewSessionLock(session);
      } catch (error) {
        this.options.log(hostLine('warning', `Renewing the lock of message '${message.messageId}' failed: ${errorMessage(error)}`));
      }
    }, Math.max(1, Math.floor(queue.lockDurationMs / 2)));
    renewal.unref();
    let failure: unknown;
    let failed = false;
    try {
      await this.fn.options.handler(message.body, context);
      // Settled only once the handler's writes are committed: a turn SQLite rolled back (I/O
      // error, full disk) took them, so the message is abandoned and delivered again.
      await queue.whenDurable();
    } catch (error) {
      failed = true;
      failure = error;
    } finally {
      clearInterval(renewal);
    }
    const durationMs = Math.round(performance.now() - startedAt);
    this.summaries.set(message, `'${this.fn.name}' (%s, Id=${context.invocationId}, MessageId=${message.messageId}, DeliveryCount=${message.deliveryCount}, Duration=${durationMs}ms)`);
    if (!failed && session !== undefined) return true;
    try {
      if (failed) {
        this.options.log(hostLine('error', `Executed ${this.summaries.get(message)!.replace('%s', 'Failed')}: ${describeError(failure)}`));
        queue.abandon(message.lockToken, errorMessage(failure));
      } else {
        queue.complete(message.lockToken);
        this.logSucceeded(message);
      }
    } catch (error) {
      // The lock was lost (expired and taken, or released at stop): the message comes back anyway.
      this.options.log(hostLine('warning', `Settling message '${message.messageId}' failed: ${errorMessage(error)}`));
    }
    return !failed;
  }

  /** The "Executed … Succeeded" line (when asked for), once the message is completed. */
  private logSucceeded(message: ReceivedMessage): void {
    const summary = this.summaries.get(message);
    if (summary !== undefined && this.options.logInvocations) this.options.log(hostLine('information', `Executed ${summary.replace('%s', 'Succeeded')}`));
  }

  private readonly summaries = new WeakMap<ReceivedMessage, string>();

  private idleWaitMs(): number {
    const next = this.options.queue.nextScheduledAt(this.queueName);
    if (next === undefined) return this.options.pollIntervalMs;
    return Math.max(0, Math.min(this.options.pollIntervalMs, next.getTime() - Date.now()));
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private poke(): void {
    this.wake?.();
  }
}

/** What the Service Bus extension puts in context.triggerMetadata for one message. */
function triggerMetadataOf(message: ReceivedMessage): Record<string, unknown> {
  return {
    messageId: message.messageId,
    sessionId: message.sessionId,
    deliveryCount: message.deliveryCount,
    enqueuedTimeUtc: message.enqueuedTime.toISOString(),
    sequenceNumber: message.sequenceNumber,
    applicationProperties: message.applicationProperties,
    userProperties: message.applicationProperties,
    lockToken: message.lockToken,
    lockedUntilUtc: message.lockedUntil.toISOString(),
  };
}
