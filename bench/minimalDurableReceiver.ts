import Database from 'better-sqlite3';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { join } from 'node:path';

/**
 * A second ceiling for webhook ingest: the least work that meets the target's definition, on the
 * same machine, in the same run. One node:http server and one SQLite file (WAL, synchronous=NORMAL,
 * as the local store) that, per webhook:
 * - verifies the Standard Webhooks signature over the raw body and parses the JSON;
 * - claims the delivery id, logs the delivery and enqueues a message (three random-keyed inserts,
 *   like the product's claim, log row and message id), committed once per event-loop turn before
 *   any 202 of that turn is written;
 * - and, with `apply`, in the same turns, takes the oldest queued messages, parses their event and
 *   upserts the record with its content hash, marks the delivery applied and removes the message.
 * What it leaves out is everything else the host does: the Functions programming model (routing,
 * HttpRequest, invocation context), connection and secret lookups, scheme dispatch, trace context,
 * telemetry, webhook health, sessions, locks and delivery counts, merge and change detection. So
 * host ÷ this is what the product's layers cost, and this rate bounds what any design on one
 * SQLite writer thread could reach here.
 */
export interface MinimalDurableReceiver {
  port: number;
  /** Receipt-to-stored per applied record (ms, sorted), when applying. */
  receiptToStored(): number[];
  close(): void;
}

const SCHEMA = `
CREATE TABLE claims (key TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE deliveries (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, connection_id TEXT NOT NULL, body TEXT NOT NULL,
  received_at_ms INTEGER NOT NULL, status TEXT NOT NULL);
CREATE INDEX deliveries_by_connection ON deliveries (connection_id, seq);
CREATE TABLE messages (seq INTEGER PRIMARY KEY, session_id TEXT NOT NULL, delivery_id TEXT NOT NULL);
CREATE INDEX messages_by_session ON messages (session_id, seq);
CREATE TABLE message_ids (id TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE records (id TEXT PRIMARY KEY, connection_id TEXT NOT NULL, data TEXT NOT NULL, hash TEXT NOT NULL,
  stored_at_ms INTEGER NOT NULL, received_at_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX records_by_connection ON records (connection_id, stored_at_ms);
`;

interface Received {
  claimKey: string;
  deliveryId: string;
  connectionId: string;
  body: string;
  receivedAtMs: number;
  res: ServerResponse;
}

export function startMinimalDurableReceiver(options: { dataDir: string; key: Buffer; apply: boolean }): Promise<MinimalDurableReceiver> {
  const db = new Database(join(options.dataDir, 'minimal.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('temp_store = MEMORY');
  db.exec(SCHEMA);
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const claim = db.prepare('INSERT OR IGNORE INTO claims (key, expires_at_ms) VALUES (?, ?)');
  const logDelivery = db.prepare("INSERT INTO deliveries (id, connection_id, body, received_at_ms, status) VALUES (?, ?, ?, ?, 'received')");
  const enqueue = db.prepare('INSERT INTO messages (session_id, delivery_id) VALUES (?, ?)');
  const messageId = db.prepare('INSERT OR IGNORE INTO message_ids (id, expires_at_ms) VALUES (?, ?)');
  const oldest = db.prepare('SELECT m.seq, d.id, d.connection_id, d.body, d.received_at_ms FROM messages m JOIN deliveries d ON d.id = m.delivery_id ORDER BY m.seq LIMIT 256');
  const upsert = db.prepare(
    'INSERT INTO records (id, connection_id, data, hash, stored_at_ms, received_at_ms) VALUES (?, ?, ?, ?, ?, ?) ' +
      'ON CONFLICT (id) DO UPDATE SET data = excluded.data, hash = excluded.hash, stored_at_ms = excluded.stored_at_ms, received_at_ms = excluded.received_at_ms WHERE hash <> excluded.hash',
  );
  const applied = db.prepare("UPDATE deliveries SET status = 'applied' WHERE id = ?");
  const dequeue = db.prepare('DELETE FROM messages WHERE seq = ?');

  let pending: Received[] = [];
  let queued = 0;
  const turn = () => {
    const batch = pending;
    pending = [];
    const now = Date.now();
    begin.run();
    for (const r of batch) {
      if (claim.run(r.claimKey, now + 86_400_000).changes === 0) continue;
      logDelivery.run(r.deliveryId, r.connectionId, r.body, r.receivedAtMs);
      enqueue.run(r.connectionId, r.deliveryId);
      messageId.run(r.deliveryId, now + 600_000);
      queued += 1;
    }
    if (options.apply) {
      for (const m of oldest.all() as Array<{ seq: number; id: string; connection_id: string; body: string; received_at_ms: number }>) {
        const record = (JSON.parse(m.body) as { data: { record: { id: string } } }).data.record;
        const json = JSON.stringify(record);
        upsert.run(`${m.connection_id}:${record.id}`, m.connection_id, json, createHash('sha256').update(json).digest('hex'), Date.now(), m.received_at_ms);
        applied.run(m.id);
        dequeue.run(m.seq);
        queued -= 1;
      }
    }
    commit.run();
    for (const r of batch) {
      r.res.writeHead(202, { 'content-type': 'application/json' });
      r.res.end(`{"deliveryId":"${r.deliveryId}","duplicate":false}`);
    }
    // Messages left over (more than one turn's worth) are applied in the next turn.
    if (options.apply && queued > 0 && pending.length === 0) setImmediate(turn);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const receivedAtMs = Date.now();
      const raw = Buffer.concat(chunks);
      const id = String(req.headers['webhook-id'] ?? '');
      const timestamp = String(req.headers['webhook-timestamp'] ?? '');
      const given = Buffer.from(String(req.headers['webhook-signature'] ?? '').replace(/^v1,/, ''), 'base64');
      const expected = createHmac('sha256', options.key).update(`${id}.${timestamp}.`).update(raw).digest();
      const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) <= 300;
      if (!fresh || given.length !== expected.length || !timingSafeEqual(given, expected)) {
        res.writeHead(401).end();
        return;
      }
      const body = raw.toString('utf8');
      JSON.parse(body); // a malformed body would be 400
      const connectionId = (req.url ?? '').slice((req.url ?? '').lastIndexOf('/') + 1);
      const deliveryId = `dlv_${createHash('sha256').update(`${connectionId}\n${id}`).digest('base64url').slice(0, 24)}`;
      if (pending.length === 0) setImmediate(turn);
      pending.push({ claimKey: `webhook:${connectionId}:${id}`, deliveryId, connectionId, body, receivedAtMs, res });
    });
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as { port: number }).port,
        receiptToStored: () => (db.prepare('SELECT stored_at_ms - received_at_ms AS ms FROM records ORDER BY ms').all() as Array<{ ms: number }>).map((r) => r.ms),
        close: () => {
          server.close();
          db.close();
        },
      });
    });
  });
}
