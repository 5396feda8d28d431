import type { Clock } from '../../ports/clock';

export interface SqliteQueueOptions {
  /** A message id seen again within this window is accepted and dropped. Default 600_000 (10 min, Service Bus's default). 0 turns detection off. */
  duplicateDetectionWindowMs?: number;
  /** How long a received message or an accepted session stays locked without renewal. Default 60_000. */
  lockDurationMs?: number;
  /** Deliveries after which a message moves to the dead-letter store. Default MAX_DELIVERY_COUNT (10, Service Bus's default). */
  maxDeliveryCount?: number;
  /** Default: the system clock. */
  clock?: Clock;
}

/** A message handed to a receiver under a peek-lock. */
export interface ReceivedMessage {
  queue: string;
  messageId: string;
  sessionId?: string;
  body: unknown;
  applicationProperties: Record<string, string | number | boolean>;
  /** Assigned at send, increasing per database. */
  sequenceNumber: number;
  /** 1 on the first delivery; +1 on every abandon, lock expiry or crash of the receiver. */
  deliveryCount: number;
  /** When the message entered the active queue: its scheduled time, or its send time. */
  enqueuedTime: Date;
  /** Set when the message was sent with a scheduledEnqueueTime in the future. */
  scheduledEnqueueTime?: Date;
  /** Pass to complete / abandon / deadLetter / renewMessageLock. */
  lockToken: string;
  lockedUntil: Date;
}

/** An exclusive lock on one session of a queue. */
export interface SessionLock {
  queue: string;
  sessionId: string;
  lockToken: string;
  lockedUntil: Date;
}

/** One held session's move (SqliteQueue.stepSessions). */
export interface SessionStep {
  session: SessionLock;
  /** The lock token of the message the session's handler succeeded with: completed first. */
  complete?: string;
  /** Lock the session's next message; false when the receiver is stopping. */
  receiveNext: boolean;
}

export interface SessionStepResult {
  /** The session's next message, locked (undefined: none available now, or not asked for). */
  next?: ReceivedMessage;
  /** The message to complete had lost its lock (expired and taken, or released): it comes back anyway. */
  completeError?: Error;
  /** The session lock was lost: the receiver must give the session up. */
  receiveError?: Error;
}

export interface QueueDepth {
  /** Messages that can be delivered now or are being processed (locked). */
  active: number;
  /** Of `active`, those under a live lock right now. */
  locked: number;
  /** Messages waiting for their scheduled enqueue time. */
  scheduled: number;
  deadLettered: number;
}

export interface DeadLetteredMessage {
  queue: string;
  messageId: string;
  sessionId?: string;
  body: unknown;
  applicationProperties: Record<string, string | number | boolean>;
  sequenceNumber: number;
  deliveryCount: number;
  enqueuedTime: Date;
  /** `MaxDeliveryCountExceeded`, or the reason given to deadLetter(). */
  deadLetterReason: string;
  deadLetterErrorDescription?: string;
  deadLetteredAt: Date;
}

/** Service Bus's reason for a message that failed too often. */
export const MAX_DELIVERY_COUNT_EXCEEDED = 'MaxDeliveryCountExceeded';
