import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { SyncBridgeError } from '../../core/errors';
import { systemClock, type Clock } from '../../ports/clock';
import { MAX_DELIVERY_COUNT, type OutgoingMessage, type QueueName, type QueueSender } from '../../ports/queue';
import type { SqliteDatabase } from './database';
import { isOrphanedOwner, newOwnerId, registerLiveOwner, unregisterLiveOwner } from './sqliteQueueOwners';
import { messageFields, serialiseMessage, toDeadLetteredMessage } from './sqliteQueueCodec';
import { createQueueTables, type QueueDeadLetterRow, type QueueMessageRow } from './sqliteQueueSchema';
import { prepareQueueStatements, type QueueStatements } from './sqliteQueueStatements';
import { commitOtherTurns, whenDurable } from './turnCommit';
import {
  MAX_DELIVERY_COUNT_EXCEEDED,
  type DeadLetteredMessage,
  type QueueDepth,
  type ReceivedMessage,
  type SessionLock,
  type SessionStep,
  type SessionStepResult,
  type SqliteQueueOptions,
} from './sqliteQueueTypes';

export * from './sqliteQueueTypes';

/**
 * In-process wake-ups, keyed by database file, so that a receiver wakes the moment any SqliteQueue
 * of this process on the same file sends. Other processes are seen by polling (local/).
 */
const activity = new EventEmitter().setMaxListeners(0);

/** In-memory databases have no file name; each handle gets its own key. */
const memoryDatabaseKeys = new WeakMap<SqliteDatabase, string>();

function activityKeyOf(db: SqliteDatabase): string {
  if (!db.memory) return db.name;
  let key = memoryDatabaseKeys.get(db);
  if (key === undefined) {
    key = `:memory:${randomUUID()}`;
    memoryDatabaseKeys.set(db, key);
  }
  return key;
}

/** How many sends between purges of expired duplicate-detection entries. */
const PURGE_EVERY_SENDS = 512;

/**
 * The local message broker: Service Bus queue semantics in the shared SQLite file.
 *
 * Send side: the QueueSender port (durable on return, duplicate detection by message id, scheduled
 * messages, sessions). Receive side, used only by the local host: peek-lock with complete / abandon
 * / dead-letter, exclusive FIFO sessions, delivery counts and dead-lettering after
 * maxDeliveryCount. Every state change is a short IMMEDIATE transaction, so several processes may
 * share the file; locks carry an expiry and an owner id, so a crashed receiver's work comes back.
 *
 * The receive methods are synchronous (better-sqlite3 is); waiting for work is the caller's loop.
 */
export class SqliteQueue implements QueueSender {
  /** Written beside every lock this instance takes. */
  readonly ownerId: string;
  readonly lockDurationMs: number;
  readonly maxDeliveryCount: number;
  readonly duplicateDetectionWindowMs: number;
  private readonly clock: Clock;
  private readonly activityKey: string;
  private sendsSincePurge = 0;
  /**
   * The latest time this instance has read from its clock. A scheduled message whose time is not
   * after it has been due, even if the clock has since stepped back: a message sent later enters its
   * session behind it (sqliteQueueStatements.ts). In memory, so keeping it costs no statement.
   */
  private latestMs = Number.MIN_SAFE_INTEGER;
  private readonly sql: QueueStatements;

  constructor(
    private readonly db: SqliteDatabase,
    options: SqliteQueueOptions = {},
  ) {
    this.duplicateDetectionWindowMs = nonNegativeInteger(options.duplicateDetectionWindowMs ?? 600_000, 'duplicateDetectionWindowMs');
    this.lockDurationMs = positiveInteger(options.lockDurationMs ?? 60_000, 'lockDurationMs');
    this.maxDeliveryCount = positiveInteger(options.maxDeliveryCount ?? MAX_DELIVERY_COUNT, 'maxDeliveryCount');
    this.clock = options.clock ?? systemClock;
    this.ownerId = newOwnerId();
    this.activityKey = activityKeyOf(db);
    createQueueTables(db);
    this.sql = prepareQueueStatements(db);
    registerLiveOwner(this.ownerId, () => db.open);
  }

  // ------------------------------------------------------------------------------ send side

  async send(queue: QueueName | string, messages: OutgoingMessage | readonly OutgoingMessage[]): Promise<void> {
    const list: readonly OutgoingMessage[] = Array.isArray(messages) ? messages : [messages as OutgoingMessage];
    if (list.length === 0) return;
    const rows = list.map((message) => serialiseMessage(queue, message));
    const now = this.nowMs();
    this.db.transaction(() => {
      for (const row of rows) {
        if (this.duplicateDetectionWindowMs > 0) {
          const fresh = this.sql.rememberMessageId.run(queue, row.messageId, now + this.duplicateDetectionWindowMs, now);
          if (fresh.changes === 0) continue; // seen inside the window: accepted and dropped
        }
        const { messageId, sessionId, body, properties } = row;
        const inserted = this.sql.insertMessage.run({
          queue, messageId, sessionId, body, properties, now, latest: this.latestMs, scheduledAt: row.scheduledAtMs ?? null,
        });
        if (sessionId !== null) this.sql.advanceSessionHead.run({ queue, sessionId, sequenceNumber: inserted.lastInsertRowid });
      }
    }).immediate();
    this.sendsSincePurge += rows.length;
    if (this.sendsSincePurge >= PURGE_EVERY_SENDS) {
      this.sendsSincePurge = 0;
      this.sql.purgeMessageIds.run(now);
    }
    this.notify(queue);
    const sessions = new Set<string>();
    for (const row of rows) if (row.sessionId !== null) sessions.add(row.sessionId);
    for (const sessionId of sessions) activity.emit(this.sessionEvent(queue, sessionId));
  }

  /**
   * Resolves when every write made so far on this queue's database handle is committed: at once
   * unless the handle commits per turn (turnCommit.ts). The local host awaits it before answering.
   */
  whenDurable(): Promise<void> {
    return whenDurable(this.db);
  }

  // ------------------------------------------------------------------------------ receive side

  /** Locks and returns the next available message without a session (competing consumers). */
  receive(queue: string): ReceivedMessage | undefined {
    // Nothing to receive (what every poll of an idle queue finds): answered by a read, without
    // taking the write lock, which another thread's or process's writer would have to wait for.
    const now = this.nowMs();
    commitOtherTurns(this.db); // what another handle of this thread sent is visible to the read
    if (this.sql.nextWithoutSession.get(queue, now, now) === undefined) return undefined;
    return this.db
      .transaction(() => {
        for (;;) {
          const now = this.nowMs();
          const row = this.sql.nextWithoutSession.get(queue, now, now) as QueueMessageRow | undefined;
          if (row === undefined) return undefined;
          if (this.deadLetterIfExhausted(row, now)) continue;
          return this.lock(row, now);
        }
      })
      .immediate();
  }

  /**
   * Accepts the session of the earliest available message whose session nobody holds, and locks
   * the whole session for this receiver. Messages left locked by a previous holder whose session
   * lock expired become receivable again (their delivery count goes up on the next receive).
   */
  acceptSession(queue: string): SessionLock | undefined {
    // As receive(): no session to accept is answered without taking the write lock.
    commitOtherTurns(this.db);
    if (this.sql.nextFreeSession.get({ queue, now: this.nowMs() }) === undefined) return undefined;
    return this.db
      .transaction(() => {
        const now = this.nowMs();
        const candidate = this.sql.nextFreeSession.get({ queue, now }) as { session_id: string } | undefined;
        if (candidate === undefined) return undefined;
        const lockToken = randomUUID();
        const lockedUntil = now + this.lockDurationMs;
        const taken = this.sql.lockSession.run({ queue, sessionId: candidate.session_id, lockToken, owner: this.ownerId, lockedUntil, now });
        if (taken.changes === 0) return undefined;
        this.sql.unlockSessionMessages.run(queue, candidate.session_id);
        return { queue, sessionId: candidate.session_id, lockToken, lockedUntil: new Date(lockedUntil) };
      })
      .immediate();
  }

  /**
   * The next message of a held session, in order, one at a time: while the head message is locked
   * (being processed) this returns undefined. Throws `conflict` if the session lock was lost.
   */
  receiveFromSession(session: SessionLock): ReceivedMessage | undefined {
    return this.db.transaction(() => this.lockSessionHead(session)).immediate();
  }

  /**
   * Several held sessions move on in one transaction: each step completes the message its handler
   * finished with (when `complete` is set) and locks the session's next one (when `receiveNext`).
   * How the local host's session receivers settle: the steps of one event-loop turn share a
   * commit instead of one commit each. A step whose message lock was lost reports `completeError`
   * (the message comes back anyway) and still receives; a step whose session lock was lost reports
   * `receiveError`. Neither changes anything for that step, and neither stops the other steps.
   */
  stepSessions(steps: readonly SessionStep[]): SessionStepResult[] {
    if (steps.length === 0) return [];
    return this.db
      .transaction(() =>
        steps.map((step) => {
          const result: SessionStepResult = {};
          if (step.complete !== undefined) {
            try {
              this.completeLocked(step.complete);
            } catch (error) {
              if (!isLockLost(error)) throw error;
              result.completeError = error;
            }
          }
          if (step.receiveNext) {
            try {
              result.next = this.lockSessionHead(step.session);
            } catch (error) {
              if (!isLockLost(error)) throw error;
              result.receiveError = error;
            }
          }
          return result;
        }),
      )
      .immediate();
  }

  /** Whether a session with available messages waits for a receiver (nobody holds it). */
  hasWaitingSession(queue: string): boolean {
    const now = this.nowMs();
    return this.sql.nextFreeSession.get({ queue, now }) !== undefined;
  }

  private lockSessionHead(session: SessionLock): ReceivedMessage | undefined {
    this.assertSessionHeld(session);
    for (;;) {
      const now = this.nowMs();
      const row = this.sql.headOfSession.get(session.queue, session.sessionId, now) as QueueMessageRow | undefined;
      if (row === undefined) return undefined;
      if (row.lock_token !== null && (row.locked_until_ms ?? 0) > now) return undefined;
      if (this.deadLetterIfExhausted(row, now)) continue;
      return this.lock(row, now);
    }
  }

  /** Extends a session lock by lockDurationMs; throws `conflict` if it was lost. */
  renewSessionLock(session: SessionLock): Date {
    const lockedUntil = this.nowMs() + this.lockDurationMs;
    const renewed = this.sql.renewSession.run(lockedUntil, session.queue, session.sessionId, session.lockToken);
    if (renewed.changes === 0) throw sessionLockLost(session);
    session.lockedUntil = new Date(lockedUntil);
    return session.lockedUntil;
  }

  /** Gives a session back so that any receiver may accept it again. */
  releaseSession(session: SessionLock): void {
    this.db
      .transaction(() => {
        this.sql.releaseSession.run(session.queue, session.sessionId, session.lockToken);
        this.sql.forgetEmptySession.run({ queue: session.queue, sessionId: session.sessionId });
      })
      .immediate();
    this.notify(session.queue);
  }

  /** Settles a message for good: it is deleted. Throws `conflict` if the lock was lost. */
  complete(lockToken: string): void {
    this.db.transaction(() => this.completeLocked(lockToken)).immediate();
  }

  private completeLocked(lockToken: string): void {
    const row = this.sql.deleteLocked.get(lockToken) as Pick<QueueMessageRow, 'queue' | 'session_id'> | undefined;
    if (row === undefined) throw messageLockLost(lockToken);
    this.refreshSessionHead(row);
  }

  /**
   * Gives a message back: it is delivered again, first in its session, with deliveryCount + 1 -
   * unless it has had maxDeliveryCount deliveries, in which case it is dead-lettered with reason
   * MaxDeliveryCountExceeded and the error description.
   */
  abandon(lockToken: string, errorDescription?: string): void {
    const queue = this.db
      .transaction(() => {
        const row = this.lockedRow(lockToken);
        const now = this.nowMs();
        if (row.delivery_count >= this.maxDeliveryCount) {
          this.moveToDeadLetters(row, MAX_DELIVERY_COUNT_EXCEEDED, errorDescription ?? row.last_error, now);
        } else {
          this.sql.unlockMessage.run(errorDescription ?? null, row.sequence_number);
        }
        return row.queue;
      })
      .immediate();
    this.notify(queue);
  }

  /** Moves a locked message to the dead-letter store. */
  deadLetter(lockToken: string, reason: string, description?: string): void {
    this.db
      .transaction(() => this.moveToDeadLetters(this.lockedRow(lockToken), reason, description ?? null, this.nowMs()))
      .immediate();
  }

  /** Extends a message lock by lockDurationMs; throws `conflict` if it was lost. */
  renewMessageLock(lockToken: string): Date {
    const lockedUntil = this.nowMs() + this.lockDurationMs;
    const renewed = this.sql.renewMessage.run(lockedUntil, lockToken);
    if (renewed.changes === 0) throw messageLockLost(lockToken);
    return new Date(lockedUntil);
  }

  // ------------------------------------------------------------------------------ crash recovery

  /** Releases every message and session lock whose owner id starts with the prefix. Returns how many. */
  releaseLocksOf(ownerPrefix: string): number {
    const released = this.db
      .transaction(() => {
        const messages = this.sql.releaseMessagesOf.run(ownerPrefix, ownerPrefix).changes;
        const sessions = this.sql.releaseSessionsOf.run(ownerPrefix, ownerPrefix).changes;
        this.sql.forgetAllEmptySessions.run();
        return messages + sessions;
      })
      .immediate();
    if (released > 0) this.notifyAll();
    return released;
  }

  /**
   * Releases the locks of owners that can never settle them: dead processes on this machine and
   * closed instances in this one. A host calls this at start, so that after a kill -9 the work in
   * flight resumes at once instead of after lockDurationMs. Returns how many locks were released.
   */
  releaseOrphanedLocks(): number {
    const owners = (this.sql.lockOwners.all() as Array<{ owner: string }>).map((r) => r.owner);
    let released = 0;
    for (const owner of owners) {
      if (owner !== this.ownerId && isOrphanedOwner(owner)) released += this.releaseLocksOf(owner);
    }
    return released;
  }

  // ------------------------------------------------------------------------------ introspection

  depth(queue: string): QueueDepth {
    const now = this.nowMs();
    const counts = this.sql.depth.get({ now, queue }) as { active: number | null; locked: number | null; scheduled: number | null };
    const dead = this.sql.deadLetterCount.get(queue) as { count: number };
    return { active: counts.active ?? 0, locked: counts.locked ?? 0, scheduled: counts.scheduled ?? 0, deadLettered: dead.count };
  }

  listDeadLetters(queue: string, limit = 100): DeadLetteredMessage[] {
    return (this.sql.listDeadLetters.all(queue, limit) as QueueDeadLetterRow[]).map(toDeadLetteredMessage);
  }

  /**
   * Whether at least `count` messages of the queue are available now (locked or not), counting
   * only those whose message id starts with one of `messageIdPrefixes` when they are given
   * (letters, digits, `_` and `-`). Counts no further than `count` along an index, so it stays
   * cheap however deep the queue is (the journal drain asks it every few milliseconds while it
   * waits for the worker): without prefixes along the queue's order, with them along each
   * prefix's range of ids, so the other messages waiting are never read.
   */
  hasAvailable(queue: string, count: number, options: { messageIdPrefixes?: readonly string[] } = {}): boolean {
    const { messageIdPrefixes } = options;
    const now = this.nowMs();
    if (messageIdPrefixes === undefined) {
      const row = this.sql.availableUpTo.get({ queue, now, limit: count }) as { count: number };
      return row.count >= count;
    }
    let found = 0;
    for (const { low, high } of idRanges(messageIdPrefixes)) {
      found += (this.sql.availableWithIdUpTo.get({ queue, now, limit: count - found, low, high }) as { count: number }).count;
      if (found >= count) return true;
    }
    return false;
  }

  /**
   * Whether the session has a message due now, waiting or being handled (not one scheduled for
   * later), whose id starts with one of the prefixes: the journal drain's direct apply leaves a
   * connection's deliveries to the worker while earlier ones of it wait there (journalApply.ts).
   */
  hasDueInSession(queue: string, sessionId: string, options: { messageIdPrefixes: readonly string[] }): boolean {
    const now = this.nowMs();
    return idRanges(options.messageIdPrefixes).some(({ low, high }) => this.sql.dueInSessionWithId.get({ queue, sessionId, now, low, high }) !== undefined);
  }

  /** When the earliest scheduled (not yet available) message of the queue becomes available. */
  nextScheduledAt(queue: string): Date | undefined {
    const row = this.sql.nextScheduled.get(queue, this.nowMs()) as { at: number | null };
    return row.at === null ? undefined : new Date(row.at);
  }

  /** Calls the listener whenever a message of the queue may have become receivable in this process. */
  onActivity(queue: string, listener: () => void): () => void {
    const event = `${this.activityKey}\u0000${queue}`;
    activity.on(event, listener);
    return () => activity.off(event, listener);
  }

  /**
   * Tells this process's receivers of the queue that a message may have become receivable: another
   * thread or process sent one (the local host forwards its sends to the applier thread with this,
   * so that thread need not wait for its next poll).
   */
  announce(queue: string): void {
    this.notify(queue);
  }

  /**
   * Calls the listener when a message of this session was sent in this process (a held session's
   * receiver waits on it instead of giving the session back at once).
   */
  onSessionActivity(queue: string, sessionId: string, listener: () => void): () => void {
    const event = this.sessionEvent(queue, sessionId);
    activity.on(event, listener);
    return () => activity.off(event, listener);
  }

  private sessionEvent(queue: string, sessionId: string): string {
    return `${this.activityKey}\u0001${queue}\u0000${sessionId}`;
  }

  /** Forgets this instance as a live lock owner; the database itself belongs to the caller. */
  close(): void {
    unregisterLiveOwner(this.ownerId);
  }

  // ------------------------------------------------------------------------------ internals

  /** Every read of the clock goes through here, so that latestMs sees every time the queue acted on. */
  private nowMs(): number {
    const now = this.clock.now().getTime();
    if (now > this.latestMs) this.latestMs = now;
    return now;
  }

  private lock(row: QueueMessageRow, now: number): ReceivedMessage {
    const lockToken = randomUUID();
    const lockedUntil = now + this.lockDurationMs;
    this.sql.lockMessage.run(lockToken, this.ownerId, lockedUntil, row.sequence_number);
    return {
      ...messageFields(row),
      deliveryCount: row.delivery_count + 1,
      ...(row.available_at_ms > row.sent_at_ms ? { scheduledEnqueueTime: new Date(row.available_at_ms) } : {}),
      lockToken,
      lockedUntil: new Date(lockedUntil),
    };
  }

  /** A message whose last allowed delivery ended without settlement (lock expired, crash). */
  private deadLetterIfExhausted(row: QueueMessageRow, now: number): boolean {
    if (row.delivery_count < this.maxDeliveryCount) return false;
    const description = row.last_error ?? `The lock of delivery ${row.delivery_count} expired or its receiver stopped.`;
    this.moveToDeadLetters(row, MAX_DELIVERY_COUNT_EXCEEDED, description, now);
    return true;
  }

  private moveToDeadLetters(row: QueueMessageRow, reason: string, description: string | null, now: number): void {
    this.sql.insertDeadLetter.run({ sequenceNumber: row.sequence_number, reason, description, now });
    this.sql.deleteBySequence.run(row.sequence_number);
    this.refreshSessionHead(row);
  }

  /** After a message of a session left the queue, the session's head is the next one (or none). */
  private refreshSessionHead(row: Pick<QueueMessageRow, 'queue' | 'session_id'>): void {
    if (row.session_id === null) return;
    const key = { queue: row.queue, sessionId: row.session_id };
    this.sql.refreshSessionHead.run(key);
    this.sql.forgetEmptySession.run(key);
  }

  private lockedRow(lockToken: string): QueueMessageRow {
    const row = this.sql.byLockToken.get(lockToken) as QueueMessageRow | undefined;
    if (row === undefined) throw messageLockLost(lockToken);
    return row;
  }

  /**
   * The session is still this holder's: its token, and a lock that has not expired. An expired
   * lock is lost even before anyone takes the session over (as Service Bus's SessionLockLost):
   * otherwise the old holder could lock the next message while a new receiver accepts the session.
   */
  private assertSessionHeld(session: SessionLock): void {
    const row = this.sql.sessionLock.get(session.queue, session.sessionId) as { lock_token: string | null; locked_until_ms: number | null } | undefined;
    if (row?.lock_token !== session.lockToken || (row.locked_until_ms ?? 0) <= this.nowMs()) throw sessionLockLost(session);
  }

  private notify(queue: string): void {
    activity.emit(`${this.activityKey}\u0000${queue}`);
  }

  private notifyAll(): void {
    for (const event of activity.eventNames()) {
      if (typeof event === 'string' && event.startsWith(`${this.activityKey}\u0000`)) activity.emit(event);
    }
  }
}


/** Lock-lost errors are thrown before a statement changes anything, so a batch may go on past them. */
function isLockLost(error: unknown): error is SyncBridgeError {
  return error instanceof SyncBridgeError && error.code === 'conflict';
}

function messageLockLost(lockToken: string): SyncBridgeError {
  return new SyncBridgeError('conflict', `The lock ${lockToken} is no longer held: the message was settled, or its lock expired and another receiver took it.`);
}

function sessionLockLost(session: SessionLock): SyncBridgeError {
  return new SyncBridgeError('conflict', `The lock on session "${session.sessionId}" of queue "${session.queue}" is no longer held by this receiver.`);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new SyncBridgeError('configuration', `SqliteQueueOptions.${name} must be a positive integer; got ${value}.`);
  }
  return value;
}

function nonNegativeInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new SyncBridgeError('configuration', `SqliteQueueOptions.${name} must be a non-negative integer; got ${value}.`);
  }
  return value;
}

/** Each id prefix as the range [low, high) of the ids that start with it. */
function idRanges(prefixes: readonly string[]): Array<{ low: string; high: string }> {
  if (prefixes.length === 0 || !prefixes.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) {
    throw new SyncBridgeError('validation', 'messageIdPrefixes must be one or more prefixes of letters, digits, _ and -.');
  }
  // The first string after every id with the prefix: its last character, one higher (never past
  // '~' for these characters).
  return prefixes.map((low) => ({ low, high: `${low.slice(0, -1)}${String.fromCharCode(low.charCodeAt(low.length - 1) + 1)}` }));
}
