import type { SqliteDatabase } from './database';

/**
 * Tables of the local message broker. They live in the same SQLite file as every other embedded
 * store, so a record write and the message it implies can share one transaction, and a crash loses
 * neither.
 *
 * Ordering: a message becomes *available* at max(enqueue time, scheduled time), which is when
 * Service Bus would put it into the active queue; delivery order is (available_at_ms,
 * sequence_number). The enqueue time (sent_at_ms) is the clock's time, raised when needed to the
 * available time of the latest due message waiting in the same session (or among the queue's
 * messages without a session), so that a clock stepped back cannot put a message ahead of one sent
 * before it, nor ahead of a scheduled one that fell due before the step. Due means immediate (the
 * rows whose available_at_ms is their sent_at_ms; rows written before this rule obey it too) or
 * scheduled for a time the queue's clock has already shown (SqliteQueue keeps the latest time it
 * read, in memory). Locks never change the key, so an abandoned message keeps its place at the
 * head of its session.
 *
 * Every hot statement is a range over one of the indexes below, never a scan of the table:
 * - send:                   queue_messages_by_session   (queue, session_id, available_at_ms > now), read
 *                            down from the top to the latest due message; only messages
 *                            scheduled for later (or sent or due before a clock step back) lie there
 * - receive (no session):   queue_messages_by_session   (queue, session_id IS NULL, available_at_ms…)
 * - next message of session: queue_messages_by_session  (queue, session_id = ?, available_at_ms…)
 * - accept a session:        queue_active_sessions_by_head (queue, head_available_at_ms), skipping
 *                            only the sessions held right now
 * - complete/abandon:        queue_messages_by_lock      (lock_token)
 */
export function createQueueTables(db: SqliteDatabase): void {
  const upgrading = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'queue_sessions'").get() !== undefined;
  db.exec(`
    CREATE TABLE IF NOT EXISTS queue_messages (
      sequence_number INTEGER PRIMARY KEY AUTOINCREMENT,
      queue TEXT NOT NULL,
      message_id TEXT NOT NULL,
      session_id TEXT,
      body TEXT NOT NULL,
      application_properties TEXT,
      sent_at_ms INTEGER NOT NULL,
      available_at_ms INTEGER NOT NULL,
      delivery_count INTEGER NOT NULL DEFAULT 0,
      lock_token TEXT,
      lock_owner TEXT,
      locked_until_ms INTEGER,
      last_error TEXT
    );
    CREATE INDEX IF NOT EXISTS queue_messages_by_session
      ON queue_messages (queue, session_id, available_at_ms, sequence_number);
    CREATE INDEX IF NOT EXISTS queue_messages_by_available
      ON queue_messages (queue, available_at_ms, sequence_number);
    -- Messages by id prefix (SqliteQueue.hasAvailable with messageIdPrefixes: the journal drain
    -- counts the webhook messages waiting, whatever else waits beside them).
    CREATE INDEX IF NOT EXISTS queue_messages_by_message_id
      ON queue_messages (queue, message_id, available_at_ms);
    CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_by_lock
      ON queue_messages (lock_token) WHERE lock_token IS NOT NULL;
    CREATE INDEX IF NOT EXISTS queue_messages_by_lock_owner
      ON queue_messages (lock_owner) WHERE lock_owner IS NOT NULL;

    -- One row per session that has messages or a holder: where its head message stands in the
    -- delivery order, and who holds it. Accepting a session reads this small table instead of
    -- walking the messages of sessions that are held. (queue_sessions was its first shape.)
    DROP TABLE IF EXISTS queue_sessions;
    CREATE TABLE IF NOT EXISTS queue_active_sessions (
      queue TEXT NOT NULL,
      session_id TEXT NOT NULL,
      head_available_at_ms INTEGER,
      lock_token TEXT,
      lock_owner TEXT,
      locked_until_ms INTEGER,
      PRIMARY KEY (queue, session_id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS queue_active_sessions_by_head
      ON queue_active_sessions (queue, head_available_at_ms);

    CREATE TABLE IF NOT EXISTS queue_message_ids (
      queue TEXT NOT NULL,
      message_id TEXT NOT NULL,
      expires_at_ms INTEGER NOT NULL,
      PRIMARY KEY (queue, message_id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS queue_message_ids_by_expiry ON queue_message_ids (expires_at_ms);

    CREATE TABLE IF NOT EXISTS queue_dead_letters (
      sequence_number INTEGER PRIMARY KEY,
      queue TEXT NOT NULL,
      message_id TEXT NOT NULL,
      session_id TEXT,
      body TEXT NOT NULL,
      application_properties TEXT,
      available_at_ms INTEGER NOT NULL,
      delivery_count INTEGER NOT NULL,
      reason TEXT NOT NULL,
      description TEXT,
      dead_lettered_at_ms INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS queue_dead_letters_by_queue ON queue_dead_letters (queue, sequence_number);
  `);
  // A file from before queue_active_sessions: its waiting session messages get their session rows,
  // or no receiver would ever accept those sessions (their locks were process-local then too).
  if (upgrading) {
    db.exec(`INSERT OR IGNORE INTO queue_active_sessions (queue, session_id, head_available_at_ms)
      SELECT queue, session_id, MIN(available_at_ms) FROM queue_messages WHERE session_id IS NOT NULL GROUP BY queue, session_id`);
  }
}

/** One row of queue_messages as better-sqlite3 returns it. */
export interface QueueMessageRow {
  sequence_number: number;
  queue: string;
  message_id: string;
  session_id: string | null;
  body: string;
  application_properties: string | null;
  sent_at_ms: number;
  available_at_ms: number;
  delivery_count: number;
  lock_token: string | null;
  lock_owner: string | null;
  locked_until_ms: number | null;
  last_error: string | null;
}

export interface QueueDeadLetterRow {
  sequence_number: number;
  queue: string;
  message_id: string;
  session_id: string | null;
  body: string;
  application_properties: string | null;
  available_at_ms: number;
  delivery_count: number;
  reason: string;
  description: string | null;
  dead_lettered_at_ms: number;
}
