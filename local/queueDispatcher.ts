import type { ServiceBusQueueFunctionOptions } from '@azure/functions';
import { SyncBridgeError } from '../shared/core/errors';
import type { ReceivedMessage, SessionLock, SqliteQueue } from '../shared/platform/local/sqliteQueue';
import { createInvocationContext, describeError, errorMessage, hostLine, type HostLog, type InFlightInvocations } from './invocation';

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
  log: HostLog;
  /** Log an "Executed … (Succeeded …)" line per successful invocation; failures are always logged. */
  logInvocations: boolean;
  inFlight: InFlightInvocations;
}

/** Like the Service Bus extension's maxAutoLockRenewalDuration: locks are renewed up to this long. */
const MAX_AUTO_LOCK_RENEWAL_MS = 5 * 60_000;

/**
 * The Service Bus queue trigger on SqliteQueue: one pump per function. Without sessions the pump
 * keeps up to maxConcurrentCalls messages in flight (competing consumers); with sessions it holds
 * up to maxConcurrentSessions sessions, and each session hands its messages to the handler one at
 * a time, in order, releasing the session when it has nothing more to deliver.
 *
 * Settlement is the extension's autoComplete: the handler returns → complete; it throws →
 * abandon, so the message comes back with deliveryCount + 1 and is dead-lettered after the
 * queue's maxDeliveryCount. Locks are renewed while a handler runs.
 */
export class QueueDispatcher {
  private readonly pumps: QueuePump[];

  constructor(private readonly options: QueueDispatcherOptions) {
    this.pumps = options.functions.map((fn) => {
      if (fn.options.cardinality === 'many') {
        throw new SyncBridgeError('configuration', `Function "${fn.name}": the local host delivers Service Bus messages one at a time; cardinality 'many' is not supported.`);
      }
      return new QueuePump(fn, options);
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
  private readonly queueName: string;
  private readonly sessions: boolean;
  private readonly limit: number;

  constructor(
    private readonly fn: ServiceBusQueueFunction,
    private readonly options: QueueDispatcherOptions,
  ) {
    this.queueName = fn.options.queueName;
    this.sessions = fn.options.isSessionsEnabled === true;
    this.limit = this.sessions ? options.maxConcurrentSessions : options.maxConcurrentCalls;
  }

  start(): void {
    this.unsubscribe = this.options.queue.onActivity(this.queueName, () => this.poke());
    this.loop = this.run();
  }

  async stopReceiving(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.poke();
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

  private begin(work: Promise<void>): void {
    this.active += 1;
    void this.options.inFlight.track(
      work.finally(() => {
        this.active -= 1;
        this.poke();
      }),
    );
  }

  private async drainSession(session: SessionLock): Promise<void> {
    try {
      while (!this.stopped) {
        const message = this.options.queue.receiveFromSession(session);
        if (message === undefined) break;
        await this.invoke(message, session);
      }
    } catch (error) {
      this.options.log(hostLine('warning', `Session '${session.sessionId}' of queue '${this.queueName}' ended: ${errorMessage(error)}`));
    } finally {
      this.release(session);
    }
  }

  private release(session: SessionLock): void {
    if (!this.heldSessions.delete(session)) return;
    try {
      this.options.queue.releaseSession(session);
    } catch (error) {
      this.options.log(hostLine('warning', `Releasing session '${session.sessionId}' failed: ${errorMessage(error)}`));
    }
  }

  private async invoke(message: ReceivedMessage, session?: SessionLock): Promise<void> {
    const queue = this.options.queue;
    const context = createInvocationContext(this.fn.name, this.options.log, triggerMetadataOf(message));
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
    } catch (error) {
      failed = true;
      failure = error;
    } finally {
      clearInterval(renewal);
    }
    const durationMs = Math.round(performance.now() - startedAt);
    const summary = `'${this.fn.name}' (%s, Id=${context.invocationId}, MessageId=${message.messageId}, DeliveryCount=${message.deliveryCount}, Duration=${durationMs}ms)`;
    try {
      if (failed) {
        this.options.log(hostLine('error', `Executed ${summary.replace('%s', 'Failed')}: ${describeError(failure)}`));
        queue.abandon(message.lockToken, errorMessage(failure));
      } else {
        queue.complete(message.lockToken);
        if (this.options.logInvocations) this.options.log(hostLine('information', `Executed ${summary.replace('%s', 'Succeeded')}`));
      }
    } catch (error) {
      // The lock was lost (expired and taken, or released at stop): the message comes back anyway.
      this.options.log(hostLine('warning', `Settling message '${message.messageId}' failed: ${errorMessage(error)}`));
    }
  }

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
