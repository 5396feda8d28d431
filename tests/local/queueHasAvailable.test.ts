import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type SqliteDatabase } from '../../shared/platform/local/database';
import { SqliteQueue } from '../../shared/platform/local/sqliteQueue';
import { QUEUE_SQL } from '../../shared/platform/local/sqliteQueueStatements';
import { enableTurnCommit } from '../../shared/platform/local/turnCommit';
import { WEBHOOK_MESSAGE_ID_PREFIXES, webhookBatchMessageId, webhookMessageId } from '../../shared/core/runs/inboundMessage';
import { deliveryIdFor } from '../../shared/core/webhookIntake/receiver';

/**
 * The journal drain's bound (localPlatform.ts): it waits while enough webhook batches wait on
 * sync-inbound, counted by message id so that a backlog of sync steps does not hold webhooks back.
 * On a real SQLite queue.
 */
let dir: string;
let db: SqliteDatabase;
let queue: SqliteQueue;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'syncbridge-queue-webhooks-'));
  db = openDatabase(join(dir, 'syncbridge.db'));
  enableTurnCommit(db);
  queue = new SqliteQueue(db);
});
afterEach(() => {
  queue.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteQueue.hasAvailable', () => {

  // Half of them batches, half single deliveries: both carry webhooks.
  const batchId = (n: number) => {
    const deliveryId = deliveryIdFor(`c${n % 5}`, `msg_${n}`);
    if (n % 2 === 0) return webhookMessageId({ kind: 'webhook', connectionId: `c${n % 5}`, deliveryId });
    return webhookBatchMessageId({ kind: 'webhook-batch', connectionId: `c${n % 5}`, deliveryIds: [deliveryId, `${deliveryId}x`] });
  };

  test('counts every available message, or only those whose id has the prefix', async () => {
    for (let n = 0; n < 100; n += 1) await queue.send('sync-inbound', { body: { n }, messageId: `step-${n}`, sessionId: `c${n % 5}` });
    expect(queue.hasAvailable('sync-inbound', 64)).toBe(true);
    expect(queue.hasAvailable('sync-inbound', 64, { messageIdPrefixes: WEBHOOK_MESSAGE_ID_PREFIXES })).toBe(false);

    for (let n = 0; n < 63; n += 1) await queue.send('sync-inbound', { body: { n }, messageId: batchId(n), sessionId: `c${n % 5}` });
    expect(queue.hasAvailable('sync-inbound', 64, { messageIdPrefixes: WEBHOOK_MESSAGE_ID_PREFIXES })).toBe(false);
    await queue.send('sync-inbound', { body: { n: 63 }, messageId: batchId(63), sessionId: 'c3' });
    expect(queue.hasAvailable('sync-inbound', 64, { messageIdPrefixes: WEBHOOK_MESSAGE_ID_PREFIXES })).toBe(true);
  });

  test('scheduled messages are not available yet, and other queues do not count', async () => {
    const later = new Date(Date.now() + 60_000);
    for (let n = 0; n < 10; n += 1) await queue.send('sync-inbound', { body: { n }, messageId: batchId(n), sessionId: 'c1', scheduledEnqueueTime: later });
    for (let n = 10; n < 20; n += 1) await queue.send('other', { body: { n }, messageId: batchId(n), sessionId: 'c1' });
    expect(queue.hasAvailable('sync-inbound', 1, { messageIdPrefixes: WEBHOOK_MESSAGE_ID_PREFIXES })).toBe(false);
    expect(queue.hasAvailable('other', 10, { messageIdPrefixes: WEBHOOK_MESSAGE_ID_PREFIXES })).toBe(true);
  });

  test('with prefixes it reads only the messages with them, from an index (never the others waiting)', async () => {
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${QUEUE_SQL.availableWithIdUpTo}`).all({ queue: 'sync-inbound', now: 0, limit: 1, low: 'dlv_', high: 'dlv`' }) as Array<{ detail: string }>;
    expect(plan.map((row) => row.detail).join('\n')).toMatch(/SEARCH queue_messages USING COVERING INDEX queue_messages_by_message_id \(queue=\? AND message_id>\? AND message_id<\?\)/);
    // Ids that sort right around a prefix's range are not in it.
    for (const messageId of ['dlv', 'dlu_zzz', 'dlv`', 'dlva', 'wb', 'wc_1']) await queue.send('sync-inbound', { body: {}, messageId, sessionId: 'c1' });
    expect(queue.hasAvailable('sync-inbound', 1, { messageIdPrefixes: WEBHOOK_MESSAGE_ID_PREFIXES })).toBe(false);
    await queue.send('sync-inbound', { body: {}, messageId: 'dlv_', sessionId: 'c1' });
    await queue.send('sync-inbound', { body: {}, messageId: 'wb_x', sessionId: 'c1' });
    expect(queue.hasAvailable('sync-inbound', 2, { messageIdPrefixes: WEBHOOK_MESSAGE_ID_PREFIXES })).toBe(true);
    expect(queue.hasAvailable('sync-inbound', 3, { messageIdPrefixes: WEBHOOK_MESSAGE_ID_PREFIXES })).toBe(false);
  });

  test('a prefix that is not a plain id start is refused, and so is none', () => {
    expect(() => queue.hasAvailable('sync-inbound', 1, { messageIdPrefixes: ['wb*'] })).toThrow(/messageIdPrefixes/);
    expect(() => queue.hasAvailable('sync-inbound', 1, { messageIdPrefixes: [''] })).toThrow(/messageIdPrefixes/);
    expect(() => queue.hasAvailable('sync-inbound', 1, { messageIdPrefixes: [] })).toThrow(/messageIdPrefixes/);
  });
});

/**
 * Whether a connection's earlier webhook deliveries still wait for the worker (the journal drain's
 * direct apply defers the connection's later ones behind them, journalApply.ts).
 */
describe('SqliteQueue.hasDueInSession', () => {
  const due = (session: string) => queue.hasDueInSession('sync-inbound', session, { messageIdPrefixes: WEBHOOK_MESSAGE_ID_PREFIXES });
  const deliveryMessage = (session: string, n: number) => webhookMessageId({ kind: 'webhook', connectionId: session, deliveryId: deliveryIdFor(session, `msg_${n}`) });

  test('a webhook message waiting, or being handled, in the session is due; one scheduled for later, another session\'s or a step\'s is not', async () => {
    await queue.send('sync-inbound', { body: {}, messageId: 'step-1', sessionId: 'c1' });
    await queue.send('sync-inbound', { body: {}, messageId: deliveryMessage('c1', 1), sessionId: 'c1', scheduledEnqueueTime: new Date(Date.now() + 60_000) });
    await queue.send('sync-inbound', { body: {}, messageId: deliveryMessage('c2', 2), sessionId: 'c2' });
    await queue.send('other', { body: {}, messageId: deliveryMessage('c1', 3), sessionId: 'c1' });
    expect(due('c1')).toBe(false);
    expect(due('c2')).toBe(true);

    await queue.send('sync-inbound', { body: {}, messageId: webhookBatchMessageId({ kind: 'webhook-batch', connectionId: 'c1', deliveryIds: ['a', 'b'] }), sessionId: 'c1' });
    expect(due('c1')).toBe(true);
    // Locked by a receiver (being applied): still due, until it is completed.
    const session = queue.acceptSession('sync-inbound')!;
    expect(session.sessionId).toBe('c1'); // its head (the step) came first
    const step = queue.receiveFromSession(session)!;
    expect(step.messageId).toBe('step-1');
    queue.complete(step.lockToken);
    const batch = queue.receiveFromSession(session)!;
    expect(batch.messageId).toMatch(/^wb_/);
    expect(due('c1')).toBe(true);
    queue.complete(batch.lockToken);
    expect(due('c1')).toBe(false);
  });
});
