import Database from 'better-sqlite3';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { parentPort, Worker, workerData } from 'node:worker_threads';

const WRITER_ROLE = 'minimal-durable-receiver-writer';

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
 * SQLite writer thread could reach here. With `writerThreads` (BENCH_MINIMAL_WRITERS in the ingest
 * bench) the SQLite side moves to worker threads, one file each, and the HTTP thread only receives,
 * verifies and answers after its batch's commit: another process model, measured the same way.
 * With `journal` (the bench's journal-first phase) the HTTP thread appends to a journal file and
 * answers, and applier threads apply: see journalWriter.
 */
export interface MinimalDurableReceiver {
  port: number;
  /** Receipt-to-stored per applied record (ms, sorted), when applying. */
  receiptToStored(): Promise<number[]>;
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

interface Received extends Delivery {
  res: ServerResponse;
}

/** Where a turn's deliveries go: `done` runs once they are committed. */
interface Writer {
  write(deliveries: Delivery[], done: () => void): void;
  receiptToStored(): Promise<number[]>;
  close(): void;
}

/** One thread: the store in the HTTP thread, each turn committed before its answers are written. */
function inlineWriter(store: ReturnType<typeof openStore>): Writer {
  const schedule = backlogDrainer(store);
  return {
    write(deliveries, done) {
      store.write(deliveries);
      done();
      // Messages left over (more than one turn's worth) are applied in later turns.
      schedule();
    },
    receiptToStored: async () => store.receiptToStored(),
    close: () => store.close(),
  };
}

/** Two threads: the store in a worker thread that owns the SQLite connection; answers wait for its commit. */
function startWriterThread(dataDir: string, apply: boolean, file: string, journaled = false): Writer {
  const worker = new Worker(__filename, { workerData: { role: WRITER_ROLE, dataDir, apply, file, journaled } });
  const waiting = new Map<number, () => void>();
  let stats: ((ms: number[]) => void) | undefined;
  let next = 0;
  worker.on('message', (message: { batch?: number; receiptToStored?: number[] }) => {
    if (message.receiptToStored) stats?.(message.receiptToStored);
    else if (message.batch !== undefined) {
      const done = waiting.get(message.batch);
      waiting.delete(message.batch);
      done?.();
    }
  });
  return {
    write(deliveries, done) {
      const batch = next++;
      waiting.set(batch, done);
      worker.postMessage({ batch, deliveries });
    },
    receiptToStored: () => new Promise((resolve) => {
      stats = resolve;
      worker.postMessage({ stats: true });
    }),
    close: () => worker.postMessage({ close: true }),
  };
}

/** One delivery as the writer stores it (what the HTTP side hands over). */
interface Delivery {
  claimKey: string;
  deliveryId: string;
  connectionId: string;
  body: string;
  receivedAtMs: number;
}

/**
 * The SQLite side: `write` stores one turn's deliveries (claim, log row, message) and, with
 * `apply`, applies the oldest queued messages, all in one transaction, and returns once it
 * committed. Messages left over are applied by `applyMore`, which reports whether any remain.
 * `journaled`: the deliveries come from the journal (see journalWriter), which already queued and
 * de-duplicated them, so `write` only logs and applies each.
 */
function openStore(dataDir: string, apply: boolean, file = 'minimal.db', journaled = false) {
  const db = new Database(join(dataDir, file));
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
  const logApplied = db.prepare("INSERT OR IGNORE INTO deliveries (id, connection_id, body, received_at_ms, status) VALUES (?, ?, ?, ?, 'applied')");
  const applied = db.prepare("UPDATE deliveries SET status = 'applied' WHERE id = ?");
  const dequeue = db.prepare('DELETE FROM messages WHERE seq = ?');
  let queued = 0;

  const applyOldest = () => {
    for (const m of oldest.all() as Array<{ seq: number; id: string; connection_id: string; body: string; received_at_ms: number }>) {
      const record = (JSON.parse(m.body) as { data: { record: { id: string } } }).data.record;
      const json = JSON.stringify(record);
      upsert.run(`${m.connection_id}:${record.id}`, m.connection_id, json, createHash('sha256').update(json).digest('hex'), Date.now(), m.received_at_ms);
      applied.run(m.id);
      dequeue.run(m.seq);
      queued -= 1;
    }
  };
  return {
    write(batch: Delivery[]): void {
      const now = Date.now();
      begin.run();
      if (journaled) {
        // Journal first: the journal is the queue and did the de-duplication; log and apply at once.
        for (const r of batch) {
          const record = (JSON.parse(r.body) as { data: { record: { id: string } } }).data.record;
          const json = JSON.stringify(record);
          logApplied.run(r.deliveryId, r.connectionId, r.body, r.receivedAtMs);
          upsert.run(`${r.connectionId}:${record.id}`, r.connectionId, json, createHash('sha256').update(json).digest('hex'), Date.now(), r.receivedAtMs);
        }
        commit.run();
        return;
      }
      for (const r of batch) {
        if (claim.run(r.claimKey, now + 86_400_000).changes === 0) continue;
        logDelivery.run(r.deliveryId, r.connectionId, r.body, r.receivedAtMs);
        enqueue.run(r.connectionId, r.deliveryId);
        messageId.run(r.deliveryId, now + 600_000);
        queued += 1;
      }
      if (apply) applyOldest();
      commit.run();
    },
    /** Applies more of the backlog in a transaction of its own; true while messages remain. */
    applyMore(): boolean {
      if (!apply || queued === 0) return false;
      begin.run();
      applyOldest();
      commit.run();
      return queued > 0;
    },
    receiptToStored: () => (db.prepare('SELECT stored_at_ms - received_at_ms AS ms FROM records ORDER BY ms').all() as Array<{ ms: number }>).map((r) => r.ms),
    close: () => db.close(),
  };
}

/** Returns `schedule`: applies the store's backlog in later turns, one transaction per turn, until it is empty. */
function backlogDrainer(store: { applyMore(): boolean }): () => void {
  let scheduled = false;
  const drain = () => {
    scheduled = false;
    if (store.applyMore()) schedule();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(drain);
  };
  return schedule;
}

/**
 * The writer thread of the two-thread receiver: it owns the SQLite connection, stores each batch
 * the HTTP thread posts, answers with the batch's number once committed, and applies the backlog
 * between batches.
 */
function runWriterThread(): void {
  const { dataDir, apply, file, journaled } = workerData as { dataDir: string; apply: boolean; file: string; journaled: boolean };
  const store = openStore(dataDir, apply, file, journaled);
  const scheduleDrain = backlogDrainer(store);
  parentPort!.on('message', (message: { batch?: number; deliveries?: Delivery[]; stats?: true; close?: true }) => {
    if (message.deliveries) {
      store.write(message.deliveries);
      parentPort!.postMessage({ batch: message.batch });
      scheduleDrain();
    } else if (message.stats) {
      parentPort!.postMessage({ receiptToStored: store.receiptToStored() });
    } else if (message.close) {
      store.close();
      parentPort!.close();
    }
  });
}

/**
 * `writerThreads`: 0 (default) keeps SQLite on the HTTP thread; n > 0 gives each of n worker threads
 * its own SQLite file, the connections spread over them (a delivery's connection picks its file).
 */
/** Several writers, each owning the deliveries of the connections that hash to it. */
function shardedWriter(writers: Writer[]): Writer {
  if (writers.length === 1) return writers[0];
  const shardOf = (connectionId: string) => createHash('sha1').update(connectionId).digest()[0] % writers.length;
  return {
    write(deliveries, done) {
      const parts = writers.map(() => [] as Delivery[]);
      for (const d of deliveries) parts[shardOf(d.connectionId)].push(d);
      let left = parts.filter((p) => p.length > 0).length;
      parts.forEach((part, i) => {
        if (part.length > 0) writers[i].write(part, () => (left -= 1) === 0 && done());
      });
    },
    receiptToStored: async () => (await Promise.all(writers.map((w) => w.receiptToStored()))).flat().sort((a, b) => a - b),
    close: () => writers.forEach((w) => w.close()),
  };
}

/**
 * Journal first (`journal`), a third process model: the HTTP thread de-duplicates in memory,
 * appends each turn's fresh deliveries to an append-only file with one write() and answers; applier
 * threads then log and apply them in SQLite (two statements each: the delivery row, the record
 * upsert), with no claim table and no message table, because the journal is the queue.
 * - Durability: write() reaches the page cache, so an accepted delivery survives the process, not
 *   the machine: the same promise as the local store's WAL at synchronous=NORMAL.
 * - Duplicates: a delivery id is only accepted within the timestamp tolerance (300 s), so
 *   remembering ids for twice that is enough to drop every repeat that verifies; the delivery row's
 *   unique id catches any that slip through.
 * - Back-pressure: once `backlog` deliveries are journaled but not yet applied, answers wait for the
 *   appliers, so a closed loop of senders settles at the appliers' rate and receipt-to-stored stays
 *   bounded instead of growing for as long as the load lasts.
 * Not built, because the bench never restarts it: replaying the journal past the last applied
 * delivery at start, and rebuilding the in-memory window from the journal's last minutes. Both
 * happen once at start and cost the hot path nothing.
 */
function journalWriter(dataDir: string, appliers: Writer, backlogLimit: number): Writer {
  const fd = openSync(join(dataDir, 'intake.journal'), 'a');
  const remembered = new Map<string, number>();
  const rememberMs = 600_000;
  let backlog = 0;
  const held: Array<() => void> = [];
  const isRepeat = (claimKey: string, now: number) => {
    if ((remembered.get(claimKey) ?? 0) > now) return true;
    remembered.set(claimKey, now + rememberMs);
    if (remembered.size > 200_000) for (const [key, until] of remembered) if (until <= now) remembered.delete(key);
    return false;
  };
  return {
    write(deliveries, done) {
      const now = Date.now();
      const fresh = deliveries.filter((d) => !isRepeat(d.claimKey, now));
      if (fresh.length > 0) writeSync(fd, `${fresh.map((d) => JSON.stringify(d)).join('\n')}\n`);
      backlog += fresh.length;
      if (backlog < backlogLimit && held.length === 0) done();
      else held.push(done);
      if (fresh.length === 0) return;
      appliers.write(fresh, () => {
        backlog -= fresh.length;
        while (held.length > 0 && backlog < backlogLimit) held.shift()!();
      });
    },
    receiptToStored: () => appliers.receiptToStored(),
    close: () => {
      closeSync(fd);
      appliers.close();
    },
  };
}

export interface MinimalReceiverOptions {
  dataDir: string;
  key: Buffer;
  apply: boolean;
  /** SQLite on this many worker threads (one file each) instead of the HTTP thread; 0 by default. */
  writerThreads?: number;
  /** Journal first (see journalWriter): `appliers` threads apply; answers wait once `backlog` deliveries are unapplied. */
  journal?: { appliers: number; backlog: number };
}

export function startMinimalDurableReceiver(options: MinimalReceiverOptions): Promise<MinimalDurableReceiver> {
  const threads = (count: number, journaled: boolean) =>
    shardedWriter(Array.from({ length: count }, (_, i) => startWriterThread(options.dataDir, options.apply, `minimal-${i}.db`, journaled)));
  const writer = options.journal
    ? journalWriter(options.dataDir, threads(options.journal.appliers, true), options.journal.backlog)
    : options.writerThreads
      ? threads(options.writerThreads, false)
      : inlineWriter(openStore(options.dataDir, options.apply));
  let pending: Received[] = [];
  const turn = () => {
    const batch = pending;
    pending = [];
    writer.write(
      batch.map(({ res: _res, ...delivery }) => delivery),
      () => {
        for (const r of batch) {
          r.res.writeHead(202, { 'content-type': 'application/json' });
          r.res.end(`{"deliveryId":"${r.deliveryId}","duplicate":false}`);
        }
      },
    );
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
        receiptToStored: () => writer.receiptToStored(),
        close: () => {
          server.close();
          writer.close();
        },
      });
    });
  });
}

if (workerData?.role === WRITER_ROLE) runWriterThread();
