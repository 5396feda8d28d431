import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../shared/platform/local/database';
import { SqliteQueue } from '../../shared/platform/local/sqliteQueue';
import { enableTurnCommit } from '../../shared/platform/local/turnCommit';

/**
 * A receiver polling an idle queue takes no write lock: with the local host's applier thread,
 * the receiving thread's pumps poll the same file another thread writes, and a poll that took the
 * lock made that writer wait (and the poller too, while the writer held it). Here another handle
 * holds the write lock; an idle poll must answer at once instead of waiting out the busy timeout.
 */
describe('SqliteQueue polls of an idle queue', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncbridge-idle-poll-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('receive and acceptSession find nothing without waiting for another writer', async () => {
    const path = join(dir, 'syncbridge.db');
    const db = openDatabase(path, { busyTimeoutMs: 3000 });
    enableTurnCommit(db);
    const queue = new SqliteQueue(db);
    const other = openDatabase(path);
    other.exec('BEGIN IMMEDIATE'); // another writer holds the lock
    try {
      const started = Date.now();
      expect(queue.receive('idle-queue')).toBeUndefined();
      expect(queue.acceptSession('idle-sessions')).toBeUndefined();
      // Taking the lock would have waited the 3 s busy timeout and then failed.
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    // Once there is something to receive, it is received as before.
    await queue.send('idle-queue', { body: { n: 1 }, messageId: 'm1' });
    await queue.whenDurable();
    expect(queue.receive('idle-queue')?.body).toEqual({ n: 1 });
    queue.close();
    db.close();
  });

  test('a poll sees what another handle of this thread on the same file sent in this turn, before its commit', async () => {
    const path = join(dir, 'syncbridge.db');
    const sender = openDatabase(path);
    enableTurnCommit(sender);
    const receiver = openDatabase(path);
    enableTurnCommit(receiver);
    const sending = new SqliteQueue(sender);
    const receiving = new SqliteQueue(receiver);
    try {
      await sending.send('same-file', { body: { n: 1 }, messageId: 'm1' }); // its turn is still open
      expect(receiving.receive('same-file')?.body).toEqual({ n: 1 });
      await sending.send('same-file-sessions', { body: { n: 2 }, messageId: 'm2', sessionId: 's1' });
      expect(receiving.acceptSession('same-file-sessions')?.sessionId).toBe('s1');
    } finally {
      sending.close();
      receiving.close();
      sender.close();
      receiver.close();
    }
  });
});
