import { SyncBridgeError } from '../../core/errors';
import type { OutgoingMessage } from '../../ports/queue';
import type { QueueDeadLetterRow, QueueMessageRow } from './sqliteQueueSchema';
import type { DeadLetteredMessage } from './sqliteQueueTypes';

/** Messages to and from their rows: bodies and properties are stored as JSON text. */

export interface SerialisedMessage {
  messageId: string;
  sessionId: string | null;
  body: string;
  properties: string | null;
  scheduledAtMs?: number;
}

export function serialiseMessage(queue: string, message: OutgoingMessage): SerialisedMessage {
  if (typeof message.messageId !== 'string' || message.messageId.length === 0) {
    throw new SyncBridgeError('validation', `A message sent to queue "${queue}" has no messageId; every message needs a deterministic id.`);
  }
  if (message.sessionId !== undefined && (typeof message.sessionId !== 'string' || message.sessionId.length === 0)) {
    throw new SyncBridgeError('validation', `Message "${message.messageId}" has an empty or non-string sessionId.`);
  }
  const scheduledAtMs = message.scheduledEnqueueTime?.getTime();
  if (scheduledAtMs !== undefined && Number.isNaN(scheduledAtMs)) {
    throw new SyncBridgeError('validation', `Message "${message.messageId}" has an invalid scheduledEnqueueTime.`);
  }
  let body: string;
  try {
    body = JSON.stringify(message.body === undefined ? null : message.body);
  } catch (cause) {
    throw new SyncBridgeError('validation', `The body of message "${message.messageId}" is not JSON-serialisable.`, { cause });
  }
  return {
    messageId: message.messageId,
    sessionId: message.sessionId ?? null,
    body,
    properties: message.applicationProperties === undefined ? null : JSON.stringify(message.applicationProperties),
    ...(scheduledAtMs === undefined ? {} : { scheduledAtMs }),
  };
}

export function parseProperties(text: string | null): Record<string, string | number | boolean> {
  return text === null ? {} : (JSON.parse(text) as Record<string, string | number | boolean>);
}

/** The fields a stored message row and a dead-lettered row share, decoded once for both. */
export function messageFields(row: QueueMessageRow | QueueDeadLetterRow) {
  return {
    queue: row.queue,
    messageId: row.message_id,
    ...(row.session_id === null ? {} : { sessionId: row.session_id }),
    body: JSON.parse(row.body) as unknown,
    applicationProperties: parseProperties(row.application_properties),
    sequenceNumber: row.sequence_number,
    enqueuedTime: new Date(row.available_at_ms),
  };
}

export function toDeadLetteredMessage(row: QueueDeadLetterRow): DeadLetteredMessage {
  return {
    ...messageFields(row),
    deliveryCount: row.delivery_count,
    deadLetterReason: row.reason,
    ...(row.description === null ? {} : { deadLetterErrorDescription: row.description }),
    deadLetteredAt: new Date(row.dead_lettered_at_ms),
  };
}
