import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { startSandbox, type RunningSandbox } from '../../sandbox/server';
import { createServices, type Services } from '../../shared/composition';
import { webhookIntakeFor } from '../../shared/core/webhookIntake';
import type { WebhookInboundMessage } from '../../shared/core/runs/inboundMessage';
import { intakeEntryOf } from '../../shared/core/webhookIntake/intakeEntry';
import { JournalIntake } from '../../shared/platform/local/journalIntake';
import { JournalDirectApply, type ApplyTaken } from '../../shared/platform/local/journalApply';
import type { JournalDrain } from '../../shared/platform/local/journalDrain';
import { createLocalPlatform, startJournalDrain, type LocalPlatform } from '../../shared/platform/local/localPlatform';
import { enableTurnCommit, whenDurable } from '../../shared/platform/local/turnCommit';
import { JournalAppender } from '../../shared/platform/local/webhookJournal';
import type { IntakeEntry } from '../../shared/ports/deliveryIntake';
import { QUEUES } from '../../shared/ports/queue';
import { deliveryIdsOf, receiveAll } from '../conformance/deliveryIntake.conformance';
import { sleep, tempDirectory, waitFor } from './helpers';

/**
 * The journal drain's direct apply on the local platform (shared/platform/local/journalApply.ts),
 * with the real applier of the platform's services and a sandbox for the fetches of id-only
 * events: what a drained batch writes, in how many commits, what goes to the worker instead,
 * and what a batch cut short leaves.
 */
const TENANT = 't-direct';
const DAY_MS = 24 * 3600_000;
const scopeOf = (connectionId: string) => ({ tenantId: TENANT, connectionId, entity: 'customers' });

function recordEvent(id: string, name: string, type = 'customers.updated'): unknown {
  return { type, data: { entity: 'customers', record: { id, name, updated_at: '2027-05-01T10:00:00Z' } } };
}

function idOnlyEvent(id: string): unknown {
  return { type: 'customers.updated', data: { entity: 'customers', id } };
}

/** A verified delivery as the receiver builds it, with this event as its body. */
function entry(connectionId: string, event: unknown): IntakeEntry {
  const webhookId = `msg_${randomBytes(6).toString('hex')}`;
  return intakeEntryOf({
    deliveryId: `dlv_${connectionId}_${webhookId}`,
    tenantId: TENANT,
    connectionId,
    provider: 'sandbox',
    webhookId,
    receivedAt: new Date().toISOString(),
    eventType: (event as { type: string }).type,
    headers: { 'webhook-id': webhookId },
    body: JSON.stringify(event),
  });
}

describe('the journal drain applies what it drains (journalApply.ts)', () => {
  let sandbox: RunningSandbox;
  let dir: ReturnType<typeof tempDirectory>;
  let platform: LocalPlatform;
  let services: Services;
  let apply: ApplyTaken;
  let telemetryLines: string[];

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, recordsPerEntity: 5 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  beforeEach(async () => {
    dir = tempDirectory('syncbridge-journal-apply-');
    telemetryLines = [];
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => telemetryLines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
    platform = createLocalPlatform({ dataDir: dir.path, telemetrySink: sink, checkpointIntervalMs: 0, busyTimeoutMs: 200, queue: { duplicateDetectionWindowMs: 0 } });
    services = createServices(platform);
    await services.tenants.ensureTenant(TENANT, 'Direct apply');
    for (const id of ['a', 'b']) {
      await services.connections.create({ tenantId: TENANT, id, provider: 'sandbox', config: { baseUrl: sandbox.url }, credentials: { type: 'apiKey', apiKey: sandbox.apiKey }, schedule: { enabled: false } });
    }
    const { applier } = webhookIntakeFor(services);
    apply = (taken, log, batch) => applier.applyTaken(taken, log, batch);
    await whenDurable(platform.db);
  });
  afterEach(async () => {
    await platform.close();
    dir.remove();
  });

  /** The journal on the platform's data folder, drained with direct apply (as on the applier thread). */
  function journalWithDrain(): { journal: JournalIntake; drain: JournalDrain; close(): Promise<void> } {
    const journalDir = join(dir.path, 'webhook-journal');
    const appender = new JournalAppender(journalDir);
    const journal = new JournalIntake(appender, platform.idempotency);
    const drain = startJournalDrain(platform, journalDir, (position) => journal.drained(position), apply);
    journal.setOnAppended(() => drain.wake());
    return {
      journal,
      drain,
      async close() {
        journal.close();
        await drain.stop();
        appender.close();
      },
    };
  }

  async function drained(journal: JournalIntake): Promise<void> {
    await waitFor(() => journal.backlog === 0, 10_000, 'the journal drained');
    await whenDurable(platform.db);
  }

  /** The drain's direct apply on the platform's own parts, as startJournalDrain builds it, with the queue's send replaced where a test says. */
  function directIntake(queue: Partial<Pick<LocalPlatform['queue'], 'send'>> = {}, applyWith: ApplyTaken = apply): JournalDirectApply {
    return new JournalDirectApply({
      claims: platform.idempotency,
      deliveries: platform.deliveries,
      queue: { send: queue.send ?? ((...args) => platform.queue.send(...args)), hasDueInSession: (...args) => platform.queue.hasDueInSession(...args) },
      turn: enableTurnCommit(platform.db),
      telemetry: platform.telemetry,
      apply: applyWith,
      failsBatch: () => false,
      messagesFor: (list) => list.map((e) => e.message),
      dedupeTtlMs: DAY_MS,
    });
  }

  /** Counts UPDATEs of delivery rows and claims on the platform's own handle (temp triggers see only its writes: the drain's). */
  function countRowUpdates(): () => Record<string, number> {
    platform.db.exec(`
      CREATE TEMP TABLE row_updates (tbl TEXT NOT NULL);
      CREATE TEMP TRIGGER delivery_row_updated AFTER UPDATE ON main.webhook_deliveries BEGIN INSERT INTO row_updates VALUES ('webhook_deliveries'); END;
      CREATE TEMP TRIGGER claim_updated AFTER UPDATE ON main.idempotency_keys BEGIN INSERT INTO row_updates VALUES ('idempotency_keys'); END;`);
    return () => Object.fromEntries((platform.db.prepare('SELECT tbl, count(*) AS n FROM row_updates GROUP BY tbl').all() as Array<{ tbl: string; n: number }>).map((r) => [r.tbl, r.n]));
  }

  it('a drained batch is applied in one commit: records stored, each delivery logged once with its outcome, claims taken once, nothing enqueued', async () => {
    const { journal, close } = journalWithDrain();
    try {
      // The connections' record scopes are created (and committed) at their first record, once
      // for the life of the data folder (RecordScopeKeys): a first batch takes care of that.
      await Promise.all([entry('a', recordEvent('cus_a0', 'First')), entry('b', recordEvent('cus_b0', 'First'))].map((e) => journal.write(e)));
      await drained(journal);
      const updates = countRowUpdates();
      const entries = [
        entry('a', recordEvent('cus_a1', 'Ada')),
        entry('b', recordEvent('cus_b1', 'Bea')),
        entry('a', recordEvent('cus_a2', 'Al')),
        entry('b', recordEvent('cus_b2', 'Bo', 'customers.deleted')),
        entry('a', { type: 'widgets.updated', data: { entity: 'widgets', record: { id: 'wid_1' } } }),
      ];
      const commits = enableTurnCommit(platform.db);
      const before = commits.commits;
      expect(await Promise.all(entries.map((e) => journal.write(e)))).toEqual(entries.map(() => 'accepted'));
      await drained(journal);
      expect(commits.commits - before).toBe(1);

      const rows = await Promise.all(entries.map((e) => platform.deliveries.get(e.delivery.id)));
      expect(rows.map((r) => r?.status)).toEqual(['applied', 'applied', 'applied', 'applied', 'ignored']);
      expect(rows[4]?.detail).toBe('The connection does not pull widgets.');
      expect(await platform.records.get(scopeOf('a'), 'cus_a1')).toMatchObject({ data: { name: 'Ada' }, deleted: false, version: 1 });
      expect(await platform.records.get(scopeOf('a'), 'cus_a2')).toMatchObject({ data: { name: 'Al' }, version: 1 });
      expect(await platform.records.get(scopeOf('b'), 'cus_b1')).toMatchObject({ data: { name: 'Bea' }, version: 1 });
      expect(await platform.records.get(scopeOf('b'), 'cus_b2')).toMatchObject({ deleted: true });
      // Each row inserted with its outcome and each claim inserted completed: nothing updated.
      expect(updates()).toEqual({});
      for (const e of entries) expect(platform.idempotency.peek(e.claimKey)).toBe('completed');
      // Each claim holds its delivery's id, which names a duplicate's answer (JournalIntake.deliveryIdOf).
      for (const e of entries) expect(platform.idempotency.completedResult(e.claimKey)).toBe(e.delivery.id);
      expect(receiveAll(platform.queue)).toEqual([]);
      expect(await platform.deliveries.health('a')).toMatchObject({ received: 4, failures: 0 });
      // A provider's retry of any of them is a duplicate, and takes nothing.
      expect(await journal.write({ ...entries[0], delivery: { ...entries[0].delivery, receivedAt: new Date().toISOString() } })).toBe('duplicate');
    } finally {
      await close();
    }
  });

  it('a batch holds SQLite\'s write lock from its first read: no other connection can write while it applies', async () => {
    let otherWrite: string | undefined;
    const intake = directIntake({}, async (taken, log, batch) => {
      const other = new Database(join(dir.path, 'syncbridge.db'), { timeout: 0 });
      try {
        other.prepare("UPDATE webhook_health SET received = received WHERE connection_id = 'none'").run();
        otherWrite = 'written';
      } catch (error) {
        otherWrite = (error as { code?: string }).code;
      } finally {
        other.close();
      }
      return apply(taken, log, batch);
    });
    expect(await intake.write(entry('a', recordEvent('cus_a1', 'Ada')))).toBe('accepted');
    expect(otherWrite).toBe('SQLITE_BUSY');
  });

  it('an id-only event, and every later delivery of its connection in the batch, go to the worker in one message, in order; the worker applies them', async () => {
    const { journal, close } = journalWithDrain();
    try {
      const a1 = entry('a', recordEvent('cus_a1', 'Ada'));
      const fetch = entry('a', idOnlyEvent('cus_0000002'));
      const a3 = entry('a', recordEvent('cus_a3', 'Ann'));
      const b1 = entry('b', recordEvent('cus_b1', 'Bea'));
      await Promise.all([a1, fetch, a3, b1].map((e) => journal.write(e)));
      await drained(journal);

      const status = async (e: IntakeEntry) => (await platform.deliveries.get(e.delivery.id))?.status;
      expect([await status(a1), await status(fetch), await status(a3), await status(b1)]).toEqual(['applied', 'received', 'received', 'applied']);
      const messages = receiveAll(platform.queue);
      expect(messages.map((m) => m.sessionId)).toEqual(['a']);
      expect(deliveryIdsOf(messages)).toEqual([fetch.delivery.id, a3.delivery.id]);
      for (const e of [fetch, a3]) expect(platform.idempotency.peek(e.claimKey)).toBe('completed');

      // The inbound worker's part: the batch message, applied with its provider fetch.
      const outcomes = await webhookIntakeFor(services).applier.applyBatch(messages[0].body as never, { messageSequence: String(messages[0].sequenceNumber) });
      expect(outcomes).toEqual({ applied: 2 });
      const remote = (await (await globalThis.fetch(`${sandbox.url}/v1/customers/cus_0000002`, { headers: { 'X-Api-Key': sandbox.apiKey } })).json()) as { name: string };
      expect(await platform.records.get(scopeOf('a'), 'cus_0000002')).toMatchObject({ data: { name: remote.name } });
      expect(await platform.records.get(scopeOf('a'), 'cus_a3')).toMatchObject({ data: { name: 'Ann' } });
    } finally {
      await close();
    }
  });

  it('a paused connection\'s deliveries are logged held, without a message; its resume enqueues them', async () => {
    const { journal, close } = journalWithDrain();
    try {
      await services.connections.pause(TENANT, 'a');
      const held = entry('a', recordEvent('cus_a1', 'Ada'));
      const other = entry('b', recordEvent('cus_b1', 'Bea'));
      await Promise.all([held, other].map((e) => journal.write(e)));
      await drained(journal);
      expect(await platform.deliveries.get(held.delivery.id)).toMatchObject({ status: 'held', detail: expect.stringContaining('paused') });
      expect(await platform.deliveries.get(other.delivery.id)).toMatchObject({ status: 'applied' });
      expect(await platform.records.get(scopeOf('a'), 'cus_a1')).toBeUndefined();
      expect(receiveAll(platform.queue)).toEqual([]);
      expect((await services.connections.resume(TENANT, 'a')).releasedDeliveries).toBe(1);
      expect(deliveryIdsOf(receiveAll(platform.queue).filter((m) => m.sessionId === 'a'))).toEqual([held.delivery.id]);
    } finally {
      await close();
    }
  });

  it('a batch cut short after its writes began takes no claim: the same batch again is accepted, and each delivery is applied and logged once', async () => {
    // The queue refuses the send for the deferred delivery, after the others were applied and all rows inserted.
    let sendFails = true;
    const intake = directIntake({ send: (...args) => (sendFails ? Promise.reject(new Error('The queue is down.')) : platform.queue.send(...args)) });
    const entries = [entry('a', recordEvent('cus_a1', 'Ada')), entry('b', idOnlyEvent('cus_0000003')), entry('a', recordEvent('cus_a2', 'Al'))];

    const first = await Promise.allSettled(entries.map((e) => intake.write(e)));
    expect(first.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    await whenDurable(platform.db);
    for (const e of entries) expect(platform.idempotency.peek(e.claimKey)).toBe('free');
    // What the cut-short batch wrote stays (its turn committed): the applied records and the rows.
    expect(await platform.records.get(scopeOf('a'), 'cus_a1')).toMatchObject({ version: 1 });

    sendFails = false;
    expect(await Promise.all(entries.map((e) => intake.write(e)))).toEqual(['accepted', 'accepted', 'accepted']);
    await whenDurable(platform.db);
    expect(await platform.records.get(scopeOf('a'), 'cus_a1')).toMatchObject({ data: { name: 'Ada' }, version: 1 });
    expect(await platform.records.get(scopeOf('a'), 'cus_a2')).toMatchObject({ data: { name: 'Al' }, version: 1 });
    const statuses = await Promise.all(entries.map(async (e) => (await platform.deliveries.get(e.delivery.id))?.status));
    expect(statuses).toEqual(['applied', 'received', 'applied']);
    expect((await platform.deliveries.health('a')).received).toBe(2);
    expect(deliveryIdsOf(receiveAll(platform.queue))).toEqual([entries[1].delivery.id]);
    for (const e of entries) expect(platform.idempotency.peek(e.claimKey)).toBe('completed');
  });

  it('a batch tried again judges the rows its first try stored as the worker would: a delivery deferred then and held now is released by the resume', async () => {
    let sendFails = true;
    const intake = directIntake({ send: (...args) => (sendFails ? Promise.reject(new Error('The queue is down.')) : platform.queue.send(...args)) });
    const fetch = entry('b', idOnlyEvent('cus_0000004'));
    const carried = entry('a', recordEvent('cus_a1', 'Ada'));
    expect((await Promise.allSettled([fetch, carried].map((e) => intake.write(e)))).map((o) => o.status)).toEqual(['rejected', 'rejected']);
    await whenDurable(platform.db);
    // The first try's rows stayed: the deferred one `received`, the other applied.
    expect(await platform.deliveries.get(fetch.delivery.id)).toMatchObject({ status: 'received' });

    await services.connections.pause(TENANT, 'b');
    sendFails = false;
    expect(await Promise.all([fetch, carried].map((e) => intake.write(e)))).toEqual(['accepted', 'accepted']);
    await whenDurable(platform.db);
    expect(await platform.deliveries.get(fetch.delivery.id)).toMatchObject({ status: 'held' });
    expect(await platform.deliveries.get(carried.delivery.id)).toMatchObject({ status: 'applied' });
    expect(receiveAll(platform.queue)).toEqual([]);
    expect((await services.connections.resume(TENANT, 'b')).releasedDeliveries).toBe(1);
    expect(deliveryIdsOf(receiveAll(platform.queue).filter((m) => m.sessionId === 'b'))).toEqual([fetch.delivery.id]);
  });

  it('a connection\'s deliveries wait behind its earlier ones still with the worker, across batches; once those are applied the next are applied at once', async () => {
    const intake = directIntake();
    const status = async (e: IntakeEntry) => (await platform.deliveries.get(e.delivery.id))?.status;
    // Batch 1: an id-only event goes to the worker.
    const fetch = entry('a', idOnlyEvent('cus_0000005'));
    expect(await intake.write(fetch)).toBe('accepted');
    // Batch 2: a later event of the same record, carrying no time, must not overtake it; another connection's applies.
    const later = entry('a', { type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_0000005', name: 'Set by the later event' } } });
    const other = entry('b', recordEvent('cus_b1', 'Bea'));
    expect(await Promise.all([later, other].map((e) => intake.write(e)))).toEqual(['accepted', 'accepted']);
    await whenDurable(platform.db);
    expect([await status(fetch), await status(later), await status(other)]).toEqual(['received', 'received', 'applied']);

    // The worker applies session a's messages in order: the later event wins.
    const messages = receiveAll(platform.queue);
    expect(messages.map((m) => m.sessionId)).toEqual(['a', 'a']);
    expect(deliveryIdsOf(messages)).toEqual([fetch.delivery.id, later.delivery.id]);
    for (const m of messages) await webhookIntakeFor(services).applier.apply(m.body as WebhookInboundMessage, { messageSequence: String(m.sequenceNumber) });
    expect(await platform.records.get(scopeOf('a'), 'cus_0000005')).toMatchObject({ data: { name: 'Set by the later event' } });

    // Nothing of a waits there now: its next delivery is applied at once.
    const next = entry('a', recordEvent('cus_a9', 'Nine'));
    expect(await intake.write(next)).toBe('accepted');
    await whenDurable(platform.db);
    expect(await status(next)).toBe('applied');
    expect(receiveAll(platform.queue)).toEqual([]);
  });

  it('a delivery that failed validation in a batch cut short is counted once in health when the batch is tried again; the applied one reports its lag', async () => {
    let sendFails = true;
    const intake = directIntake({ send: (...args) => (sendFails ? Promise.reject(new Error('The queue is down.')) : platform.queue.send(...args)) });
    const invalid = entry('a', { type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_bad', name: 'Bad', updated_at: 'yesterday' } } });
    const fetch = entry('b', idOnlyEvent('cus_0000001'));
    const good = entry('a', recordEvent('cus_a1', 'Ada'));
    expect((await Promise.allSettled([invalid, fetch, good].map((e) => intake.write(e)))).map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    await whenDurable(platform.db);
    expect(await platform.deliveries.health('a')).toMatchObject({ failures: 0 });

    sendFails = false;
    expect(await Promise.all([invalid, fetch, good].map((e) => intake.write(e)))).toEqual(['accepted', 'accepted', 'accepted']);
    await whenDurable(platform.db);
    expect(await platform.deliveries.get(invalid.delivery.id)).toMatchObject({ status: 'failed', detail: expect.stringContaining('is not a date') });
    expect(await platform.deliveries.health('a')).toMatchObject({ failures: 1 });
    await platform.telemetry.flush();
    const lags = telemetryLines.map((line) => JSON.parse(line)).filter((line) => line.type === 'metric' && line.name === 'WebhookApplyLagMs');
    expect(lags).toHaveLength(1);
    expect(lags[0]).toMatchObject({ properties: { path: 'direct' } });
    expect(lags[0].value).toBeGreaterThanOrEqual(0);
  });

  it('a batch whose transaction SQLite rolled back (an I/O error, a full disk) takes no claim, and applies whole when tried again', async () => {
    let rollBack = true;
    const intake = directIntake({}, async (taken, log, batch) => {
      const result = await apply(taken, log, batch);
      if (rollBack) platform.db.exec('ROLLBACK'); // what SQLite does itself, mid-batch
      return result;
    });
    const entries = [entry('a', recordEvent('cus_a1', 'Ada')), entry('b', recordEvent('cus_b1', 'Bea'))];
    expect((await Promise.allSettled(entries.map((e) => intake.write(e)))).map((o) => o.status)).toEqual(['rejected', 'rejected']);
    await whenDurable(platform.db).catch(() => undefined);
    for (const e of entries) expect(platform.idempotency.peek(e.claimKey)).toBe('free');

    rollBack = false;
    expect(await Promise.all(entries.map((e) => intake.write(e)))).toEqual(['accepted', 'accepted']);
    await whenDurable(platform.db);
    for (const e of entries) expect(await platform.deliveries.get(e.delivery.id)).toMatchObject({ status: 'applied' });
    expect(await platform.records.get(scopeOf('a'), 'cus_a1')).toMatchObject({ data: { name: 'Ada' }, version: 1 });
  });

  it('while another writer holds the database, the drain\'s batches fail whole and are tried again; once it lets go every delivery is applied once', async () => {
    const { journal, drain, close } = journalWithDrain();
    try {
      await whenDurable(platform.db);
      const holder = new Database(join(dir.path, 'syncbridge.db'), { timeout: 5_000 });
      holder.exec('BEGIN IMMEDIATE');
      const entries = Array.from({ length: 20 }, (_, i) => entry(i % 2 ? 'a' : 'b', recordEvent(`cus_held_${i}`, `Held ${i}`)));
      try {
        expect(await Promise.all(entries.map((e) => journal.write(e)))).toEqual(entries.map(() => 'accepted'));
        await sleep(600); // at least two batches fail on the busy timeout (200 ms)
        expect(drain.drainedCount).toBe(0);
        expect(journal.backlog).toBe(entries.length);
      } finally {
        holder.exec('ROLLBACK');
        holder.close();
      }
      await drained(journal);
      for (const [i, e] of entries.entries()) {
        expect(await platform.deliveries.get(e.delivery.id)).toMatchObject({ status: 'applied' });
        expect(await platform.records.get(scopeOf(i % 2 ? 'a' : 'b'), `cus_held_${i}`)).toMatchObject({ version: 1 });
      }
      expect(receiveAll(platform.queue, QUEUES.inbound)).toEqual([]);
    } finally {
      await close();
    }
  });
});
