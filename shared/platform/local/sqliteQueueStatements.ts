import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './database';

const lockIsFree = '(locked_until_ms IS NULL OR locked_until_ms <= ?)';

/**
 * Where a message sent now enters the order of its group (its session, or the queue's messages
 * without a session): the clock, but never before a message already waiting there that is due -
 * an immediate one (whose available time is its enqueue time), or a scheduled one whose time the
 * queue's clock has already reached (@latest, the latest time this SqliteQueue has read). A clock
 * stepped back would otherwise put the later message first: by the clock alone, a message that
 * fell due before the step is not due again until the clock is back at its time. Scheduled
 * messages the clock has not reached yet are passed over, so a message is not held back behind
 * them. Only keys above the clock can matter, so the walk down the index ends at once unless
 * messages scheduled for later, or sent or due before a step back, lie there; @latest costs one
 * comparison per row walked over, not a statement. insertMessage writes it as sent_at_ms and as
 * the floor of available_at_ms: a seek each, in the statement that inserts.
 */
const enqueueTime = `COALESCE((SELECT available_at_ms FROM queue_messages INDEXED BY queue_messages_by_session
       WHERE queue = @queue AND session_id IS @sessionId AND available_at_ms > @now
         AND (available_at_ms = sent_at_ms OR available_at_ms <= @latest)
       ORDER BY available_at_ms DESC LIMIT 1), @now)`;

/**
 * Every statement of SqliteQueue. Hot paths name their index (INDEXED BY) so that the planner can
 * never fall back to a scan as the tables grow; see sqliteQueueSchema.ts.
 */
export const QUEUE_SQL = {
  rememberMessageId: `INSERT INTO queue_message_ids (queue, message_id, expires_at_ms) VALUES (?, ?, ?)
     ON CONFLICT (queue, message_id) DO UPDATE SET expires_at_ms = excluded.expires_at_ms
     WHERE queue_message_ids.expires_at_ms <= ?`,
  purgeMessageIds: 'DELETE FROM queue_message_ids WHERE expires_at_ms <= ?',
  insertMessage: `INSERT INTO queue_messages (queue, message_id, session_id, body, application_properties, sent_at_ms, available_at_ms)
     VALUES (@queue, @messageId, @sessionId, @body, @properties, ${enqueueTime}, MAX(${enqueueTime}, COALESCE(@scheduledAt, 0)))`,
  nextWithoutSession: `SELECT * FROM queue_messages INDEXED BY queue_messages_by_session
     WHERE queue = ? AND session_id IS NULL AND available_at_ms <= ? AND ${lockIsFree}
     ORDER BY available_at_ms, sequence_number LIMIT 1`,
  advanceSessionHead: `INSERT INTO queue_active_sessions (queue, session_id, head_available_at_ms)
     VALUES (@queue, @sessionId, (SELECT available_at_ms FROM queue_messages WHERE sequence_number = @sequenceNumber))
     ON CONFLICT (queue, session_id) DO UPDATE
     SET head_available_at_ms = MIN(COALESCE(head_available_at_ms, excluded.head_available_at_ms), excluded.head_available_at_ms)`,
  refreshSessionHead: `UPDATE queue_active_sessions SET head_available_at_ms =
       (SELECT MIN(available_at_ms) FROM queue_messages INDEXED BY queue_messages_by_session
        WHERE queue = @queue AND session_id = @sessionId)
     WHERE queue = @queue AND session_id = @sessionId`,
  forgetEmptySession: `DELETE FROM queue_active_sessions
     WHERE queue = @queue AND session_id = @sessionId AND head_available_at_ms IS NULL AND lock_token IS NULL`,
  forgetAllEmptySessions: 'DELETE FROM queue_active_sessions WHERE head_available_at_ms IS NULL AND lock_token IS NULL',
  nextFreeSession: `SELECT session_id FROM queue_active_sessions INDEXED BY queue_active_sessions_by_head
     WHERE queue = @queue AND head_available_at_ms <= @now AND (locked_until_ms IS NULL OR locked_until_ms <= @now)
     ORDER BY head_available_at_ms LIMIT 1`,
  lockSession: `UPDATE queue_active_sessions SET lock_token = @lockToken, lock_owner = @owner, locked_until_ms = @lockedUntil
     WHERE queue = @queue AND session_id = @sessionId AND (locked_until_ms IS NULL OR locked_until_ms <= @now)`,
  unlockSessionMessages: `UPDATE queue_messages SET lock_token = NULL, lock_owner = NULL, locked_until_ms = NULL
     WHERE queue = ? AND session_id = ? AND lock_token IS NOT NULL`,
  sessionLock: 'SELECT lock_token, locked_until_ms FROM queue_active_sessions WHERE queue = ? AND session_id = ?',
  renewSession: 'UPDATE queue_active_sessions SET locked_until_ms = ? WHERE queue = ? AND session_id = ? AND lock_token = ?',
  releaseSession: `UPDATE queue_active_sessions SET lock_token = NULL, lock_owner = NULL, locked_until_ms = NULL
     WHERE queue = ? AND session_id = ? AND lock_token = ?`,
  headOfSession: `SELECT * FROM queue_messages INDEXED BY queue_messages_by_session
     WHERE queue = ? AND session_id = ? AND available_at_ms <= ?
     ORDER BY available_at_ms, sequence_number LIMIT 1`,
  lockMessage: `UPDATE queue_messages SET delivery_count = delivery_count + 1, lock_token = ?, lock_owner = ?, locked_until_ms = ?
     WHERE sequence_number = ?`,
  unlockMessage: `UPDATE queue_messages SET lock_token = NULL, lock_owner = NULL, locked_until_ms = NULL, last_error = ?
     WHERE sequence_number = ?`,
  renewMessage: 'UPDATE queue_messages SET locked_until_ms = ? WHERE lock_token = ?',
  byLockToken: 'SELECT * FROM queue_messages WHERE lock_token = ?',
  deleteLocked: 'DELETE FROM queue_messages WHERE lock_token = ? RETURNING queue, session_id',
  deleteBySequence: 'DELETE FROM queue_messages WHERE sequence_number = ?',
  insertDeadLetter: `INSERT INTO queue_dead_letters (sequence_number, queue, message_id, session_id, body, application_properties,
       available_at_ms, delivery_count, reason, description, dead_lettered_at_ms)
     SELECT sequence_number, queue, message_id, session_id, body, application_properties,
       available_at_ms, delivery_count, @reason, @description, @now
     FROM queue_messages WHERE sequence_number = @sequenceNumber`,
  releaseMessagesOf: `UPDATE queue_messages SET lock_token = NULL, lock_owner = NULL, locked_until_ms = NULL
     WHERE lock_owner IS NOT NULL AND substr(lock_owner, 1, length(?)) = ?`,
  releaseSessionsOf: `UPDATE queue_active_sessions SET lock_token = NULL, lock_owner = NULL, locked_until_ms = NULL
     WHERE lock_owner IS NOT NULL AND substr(lock_owner, 1, length(?)) = ?`,
  lockOwners: `SELECT lock_owner AS owner FROM queue_messages WHERE lock_owner IS NOT NULL
     UNION SELECT lock_owner AS owner FROM queue_active_sessions WHERE lock_owner IS NOT NULL`,
  depth: `SELECT SUM(available_at_ms <= @now) AS active,
            SUM(available_at_ms <= @now AND lock_token IS NOT NULL AND locked_until_ms > @now) AS locked,
            SUM(available_at_ms > @now) AS scheduled
     FROM queue_messages WHERE queue = @queue`,
  availableUpTo: `SELECT COUNT(*) AS count FROM
     (SELECT 1 FROM queue_messages WHERE queue = @queue AND available_at_ms <= @now LIMIT @limit)`,
  // One id prefix as a range [@low, @high) of queue_messages_by_message_id: only the messages
  // with the prefix are read (from the index alone), however many others wait.
  availableWithIdUpTo: `SELECT COUNT(*) AS count FROM
     (SELECT 1 FROM queue_messages WHERE queue = @queue AND message_id >= @low AND message_id < @high AND available_at_ms <= @now LIMIT @limit)`,
  // Whether a session has a message due (waiting or being handled) whose id is in [@low, @high).
  dueInSessionWithId: `SELECT 1 AS found FROM queue_messages INDEXED BY queue_messages_by_session
     WHERE queue = @queue AND session_id = @sessionId AND available_at_ms <= @now AND message_id >= @low AND message_id < @high LIMIT 1`,
  deadLetterCount: 'SELECT COUNT(*) AS count FROM queue_dead_letters WHERE queue = ?',
  listDeadLetters: 'SELECT * FROM queue_dead_letters WHERE queue = ? ORDER BY sequence_number LIMIT ?',
  nextScheduled: 'SELECT MIN(available_at_ms) AS at FROM queue_messages WHERE queue = ? AND available_at_ms > ?',
};

export type QueueStatements = Record<keyof typeof QUEUE_SQL, Statement>;

/** Prepares every statement once, at construction, so a typo fails there and not mid-delivery. */
export function prepareQueueStatements(db: SqliteDatabase): QueueStatements {
  const entries = Object.entries(QUEUE_SQL).map(([name, sql]) => [name, db.prepare(sql)] as const);
  return Object.fromEntries(entries) as QueueStatements;
}
