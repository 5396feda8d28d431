import { createWriteStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { systemClock, type Clock } from '../../ports/clock';
import type { DependencyCheck, Platform } from '../../ports/platform';
import type { LogLevel } from '../../ports/telemetry';
import { openDatabase, type SqliteDatabase } from './database';
import { JsonLinesTelemetry } from './jsonLinesTelemetry';
import { resolveSecretKey } from './secretKey';
import { SqliteConflictStore } from './sqliteConflictStore';
import { SqliteConnectionStore } from './sqliteConnectionStore';
import { SqliteDeliveryStore } from './sqliteDeliveryStore';
import { SqliteIdempotencyStore } from './sqliteIdempotencyStore';
import { SqliteLeaseStore } from './sqliteLeaseStore';
import { SqliteOutboxStore } from './sqliteOutboxStore';
import { SqliteQueue, type SqliteQueueOptions } from './sqliteQueue';
import { SqliteRecordStore } from './sqliteRecordStore';
import { SqliteRunStore } from './sqliteRunStore';
import { SqliteSecretStore } from './sqliteSecretStore';
import { SqliteTenantStore } from './sqliteTenantStore';
import { enableTurnCommit, turnCommitOf, whenDurable } from './turnCommit';
import { isSqliteBusy } from './sqliteBusy';
import { countedOnce, JournalIntake, rejectionsClaimKey, type JournalIntakeOptions, type RejectionsFrame } from './journalIntake';
import { JournalDrain } from './journalDrain';
import { JournalDirectApply, type ApplyTaken } from './journalApply';
import { comparePositions, JournalAppender, JournalReader, readCheckpoint } from './webhookJournal';
import { IntakeGroupCommit } from '../../core/webhookIntake/groupCommit';
import { QUEUES, type OutgoingMessage } from '../../ports/queue';
import type { DeliveryIntake, IntakeEntry, IntakeOutcome } from '../../ports/deliveryIntake';
import { WEBHOOK_MESSAGE_ID_PREFIXES, webhookBatchMessageId, type WebhookBatchInboundMessage } from '../../core/runs/inboundMessage';
import { startWalCheckpointer } from './walCheckpointer';

export interface LocalPlatformOptions {
  /** Folder of the SQLite file, the secret key file and the telemetry log. */
  dataDir: string;
  /** SYNCBRIDGE_SECRET_KEY: 64 hex characters or base64 of 32 bytes; default a generated key file. */
  secretKey?: string;
  clock?: Clock;
  /** Where telemetry lines go; default `<dataDir>/telemetry.log`. */
  telemetrySink?: Writable;
  logLevel?: LogLevel;
  queue?: Omit<SqliteQueueOptions, 'clock'>;
  /**
   * Commit once per event-loop turn (turnCommit.ts) instead of once per write. Default true; the
   * local host answers HTTP only after the turn's commit.
   */
  commitPerTurn?: boolean;
  /** How long a write waits for another connection's lock before failing as `transient` (database.ts). Default 5000. */
  busyTimeoutMs?: number;
  /**
   * Journal-first webhook intake (journalIntake.ts; docs/webhook-intake.md "Journal first"): the
   * receiver appends verified deliveries to a journal in `<dataDir>/webhook-journal` instead of
   * writing their claims, log rows and messages to SQLite. `drain: 'in-process'` drains it on this
   * platform; `'applier-thread'` leaves the drain to the local host's applier thread
   * (local/applierThread.ts). Default: off (the group commit on SQLite).
   */
  webhookJournal?: { drain: 'in-process' | 'applier-thread' } & JournalIntakeOptions;
  /**
   * Without `webhookJournal`: drain deliveries a journal left in the data folder (a host killed
   * with it on), unless another host holds it. Default false (a process that merely opens the
   * platform leaves the journal alone); `npm start` sets it when it runs without the journal.
   */
  drainLeftoverJournal?: boolean;
  /** WAL checkpoints in a worker thread (walCheckpointer.ts) every this many ms; 0 leaves them to SQLite. Default 500. */
  checkpointIntervalMs?: number;
}

/** The embedded platform: every port on one SQLite file, plus the local queue broker. */
export interface LocalPlatform extends Platform {
  readonly name: 'local';
  readonly db: SqliteDatabase;
  readonly queue: SqliteQueue;
  readonly idempotency: SqliteIdempotencyStore;
  readonly deliveries: SqliteDeliveryStore;
  readonly telemetry: JsonLinesTelemetry;
  readonly dataDir: string;
  /** The journal-first intake, when `webhookJournal` is on. */
  readonly journal?: JournalIntake;
}

export function createLocalPlatform(options: LocalPlatformOptions): LocalPlatform {
  const clock = options.clock ?? systemClock;
  const db = openDatabase(join(options.dataDir, 'syncbridge.db'), { busyTimeoutMs: options.busyTimeoutMs });
  if (options.commitPerTurn ?? true) enableTurnCommit(db);
  const sink = options.telemetrySink ?? createWriteStream(join(options.dataDir, 'telemetry.log'), { flags: 'a' });
  const telemetry = new JsonLinesTelemetry({ sink, level: options.logLevel ?? 'info', clock });
  const queue = new SqliteQueue(db, { ...options.queue, clock });
  const checkpointIntervalMs = options.checkpointIntervalMs ?? 500;
  const checkpointer = checkpointIntervalMs > 0
    ? startWalCheckpointer(db, { intervalMs: checkpointIntervalMs, onError: (message) => telemetry.log('warn', message) })
    : undefined;
  const idempotency = new SqliteIdempotencyStore(db, { clock });
  const secretKey = resolveSecretKey({ dataDir: options.dataDir, keyFromEnv: options.secretKey });
  const journalDir = join(options.dataDir, 'webhook-journal');
  // Last of what can fail: the journal holds a lock on its folder until it is closed.
  const journal = options.webhookJournal ? openJournal(journalDir, idempotency, options.webhookJournal, telemetry) : undefined;
  let drain: JournalDrain | undefined;
  let leftovers: Promise<void> | undefined;
  // Journal off, but a journal left by an earlier start (killed with it on): what it accepted is
  // drained (below), or it would stay out of the log until the journal is turned on again.
  const drainsLeftovers = !options.webhookJournal && options.drainLeftoverJournal === true && hasUndrainedFrames(journalDir);
  const platform: LocalPlatform = {
    name: 'local',
    ...(journal ? { journal, webhookIntake: journal } : {}),
    // Meanwhile new deliveries wait for it: a provider's resend of one it holds must find that
    // one's claim, and the id the journal answered with, not be taken again under another id.
    ...(drainsLeftovers ? { webhookIntake: new IntakeAfter(() => leftovers, () => new IntakeGroupCommit(platform, DEDUPE_TTL_MS)) } : {}),
    db,
    dataDir: options.dataDir,
    records: new SqliteRecordStore(db),
    outbox: new SqliteOutboxStore(db),
    conflicts: new SqliteConflictStore(db),
    runs: new SqliteRunStore(db),
    connections: new SqliteConnectionStore(db),
    tenants: new SqliteTenantStore(db),
    queue,
    secrets: new SqliteSecretStore(db, secretKey),
    leases: new SqliteLeaseStore(db, { clock }),
    idempotency,
    deliveries: new SqliteDeliveryStore(db),
    telemetry,
    clock,
    async checkHealth() {
      const checks: Record<string, DependencyCheck> = {};
      try {
        db.prepare('SELECT 1').get();
        checks.database = { state: 'ok' };
      } catch (error) {
        checks.database = { state: 'failing', detail: (error as Error).message };
      }
      try {
        const inbound = queue.depth('sync-inbound');
        checks.queue = { state: 'ok', detail: `sync-inbound: ${inbound.active} active, ${inbound.scheduled} scheduled, ${inbound.deadLettered} dead-lettered` };
      } catch (error) {
        checks.queue = { state: 'failing', detail: (error as Error).message };
      }
      return checks;
    },
    async close() {
      journal?.close();
      await drain?.stop();
      await leftovers;
      await checkpointer?.stop();
      await telemetry.flush();
      if (options.telemetrySink === undefined) await new Promise<void>((done) => sink.end(done));
      if (db.open) db.close();
    },
  };
  if (drainsLeftovers) leftovers = drainLeftoverJournal(platform, journalDir);
  if (journal && options.webhookJournal?.drain === 'in-process') {
    drain = startJournalDrain(platform, journalDir);
    journal.setOnAppended(() => drain?.wake());
  }
  return platform;
}

/**
 * At most this many deliveries per batch message: a batch a failure sends back to the broker is
 * applied again whole, and one of id-only events that each need a provider fetch must finish well
 * within its session lock.
 */
const MAX_DELIVERIES_PER_BATCH = 64;

/** How long a drained delivery's key stays a duplicate: a day, as the receivers' dedupe window. */
const DEDUPE_TTL_MS = 24 * 3600 * 1000;

/**
 * One `webhook-batch` message per connection for a drained batch (its deliveries in journal
 * order, MAX_DELIVERIES_PER_BATCH at most per message): a burst costs the inbound worker one
 * message and one commit, not one per delivery. A single delivery keeps its own `webhook` message.
 */
function batchPerConnection(entries: readonly IntakeEntry[]): OutgoingMessage[] {
  const byConnection = new Map<string, IntakeEntry[]>();
  for (const entry of entries) {
    const id = entry.delivery.connectionId;
    const list = byConnection.get(id);
    if (list) list.push(entry);
    else byConnection.set(id, [entry]);
  }
  const chunks: Array<[string, IntakeEntry[]]> = [];
  for (const [connectionId, list] of byConnection) {
    for (let i = 0; i < list.length; i += MAX_DELIVERIES_PER_BATCH) chunks.push([connectionId, list.slice(i, i + MAX_DELIVERIES_PER_BATCH)]);
  }
  return chunks.map(([connectionId, list]) => {
    if (list.length === 1) return list[0].message;
    const body: WebhookBatchInboundMessage = { kind: 'webhook-batch', connectionId, deliveryIds: list.map((e) => e.delivery.id) };
    const traceparent = list[0].message.applicationProperties?.traceparent;
    return {
      body,
      messageId: webhookBatchMessageId(body),
      sessionId: connectionId,
      applicationProperties: { kind: 'webhook-batch', ...(traceparent === undefined ? {} : { traceparent }) },
    };
  });
}

/**
 * Webhook messages (one delivery, or a batch of a connection's) waiting on sync-inbound past which
 * the journal drain waits: deliveries are enqueued no faster than they are applied, so the time
 * from receipt to stored stays bounded (this many messages behind, each of up to
 * MAX_DELIVERIES_PER_BATCH deliveries; under a load of 50 connections a drained batch of 512 frames
 * makes about 50 of them), and the journal intake's own bound holds the senders back. Only webhook
 * messages count: a backlog of sync steps does not hold webhooks back. At 500 the queue held a second of deliveries at
 * 5,000/s and receipt-to-stored p99 went past 1 s (docs/webhook-intake.md).
 */
const MAX_WEBHOOK_MESSAGES_QUEUED = 64;

/** The journal intake on `dir`; the appender (and its folder lock) is closed again if the intake cannot be built. */
function openJournal(dir: string, claims: SqliteIdempotencyStore, options: JournalIntakeOptions, telemetry: JsonLinesTelemetry): JournalIntake {
  const appender = new JournalAppender(dir);
  try {
    if (appender.truncatedBytes > 0) {
      telemetry.log('warn', 'The webhook journal ended in a torn frame (a write cut short by a crash; its sender got no answer); the frame was cut.', { bytes: appender.truncatedBytes });
    }
    return new JournalIntake(appender, claims, options);
  } catch (error) {
    appender.close();
    throw error;
  }
}

/** Whether a journal folder holds frames after its checkpoint (a read; takes no lock). */
function hasUndrainedFrames(dir: string): boolean {
  if (!existsSync(dir)) return false;
  const reader = new JournalReader(dir);
  try {
    const { frames, next } = reader.read(readCheckpoint(dir), 1);
    return frames.length > 0 || comparePositions(next, readCheckpoint(dir)) !== 0;
  } finally {
    reader.close();
  }
}

/**
 * The drain's counts of refused deliveries into webhook health, each journaled frame once: its
 * claim (`rejectionsClaimKey`) is taken and completed in the batch's commit, before the counts, so
 * a frame the drain reads again after a crash finds it and counts nothing. The claims go once the
 * checkpoint file has passed their frames (forgetCountedRejections).
 */
export function rejectionsInHealth(platform: LocalPlatform): (counts: ReadonlyArray<RejectionsFrame['rejections']>) => Promise<void> {
  return async (counts) => {
    const fresh = countedOnce(counts, (frameIds) => platform.idempotency.claimManyCompleted(frameIds.map((id) => ({ key: rejectionsClaimKey(id), result: 'counted' })), DEDUPE_TTL_MS));
    for (const { connectionId, count, at, detail } of fresh) await platform.deliveries.recordHealth(connectionId, 'rejected', at, detail, count);
  };
}

/** Removes the claims of count frames the drain will not read again (JournalDrainOptions.forgetCounted). */
export function forgetCountedRejections(platform: LocalPlatform): (frameIds: string[]) => void {
  return (frameIds) => platform.idempotency.releaseMany(frameIds.map(rejectionsClaimKey));
}

/**
 * A DeliveryIntake that takes nothing until `before` has settled (a journal left by an earlier
 * start being drained), then hands every write to the intake `build` makes (the group commit).
 * It counts no refusals itself (no recordRejections): the receiver writes those to health.
 */
class IntakeAfter implements DeliveryIntake {
  private inner: DeliveryIntake | undefined;

  constructor(
    private readonly before: () => Promise<void> | undefined,
    private readonly build: () => DeliveryIntake,
  ) {}

  async write(entry: IntakeEntry): Promise<IntakeOutcome> {
    await this.before();
    this.inner ??= this.build();
    return this.inner.write(entry);
  }

  deliveryIdOf(entry: IntakeEntry): string | undefined {
    return this.inner?.deliveryIdOf?.(entry);
  }
}

/**
 * Drains a journal nobody appends to any more, then lets it go (`drainLeftoverJournal`, which
 * `npm start` sets when it runs without the journal). When another host holds the journal, its
 * own drain empties it.
 */
async function drainLeftoverJournal(platform: LocalPlatform, dir: string): Promise<void> {
  let appender: JournalAppender;
  try {
    appender = new JournalAppender(dir); // takes the folder (and cuts a torn last frame)
  } catch (error) {
    platform.telemetry.log('warn', 'A webhook journal with deliveries not yet drained is in the data folder, but another host holds it; that host drains it.', { reason: (error as Error).message });
    return;
  }
  const drain = new JournalDrain(new JournalReader(dir), new IntakeGroupCommit(platform, DEDUPE_TTL_MS, 512, undefined, batchPerConnection), {
    whenDurable: () => whenDurable(platform.db),
    onDrained: () => undefined,
    log: (level, message, properties) => platform.telemetry.log(level, message, properties),
    recordRejections: rejectionsInHealth(platform),
    forgetCounted: forgetCountedRejections(platform),
  });
  try {
    await drain.drainAll();
  } catch (error) {
    platform.telemetry.log('error', 'Draining the webhook journal left by an earlier start failed; it is drained at the next start.', { reason: (error as Error).message });
  } finally {
    await drain.stop();
    appender.close();
  }
}

/**
 * Drains the webhook journal in `dir` into this platform's delivery log and inbound queue: on the
 * platform that owns the journal (`drain: 'in-process'`), or on the local host's applier thread.
 * Its progress goes to `platform.journal` when this platform owns the journal; a drain on
 * another thread reports it with `onDrained`. With `apply` (the applier thread's services), on a
 * platform that commits per turn (the default), each drained batch is applied at once
 * (journalApply.ts); otherwise it is logged and enqueued for the inbound worker (IntakeGroupCommit).
 */
export function startJournalDrain(
  platform: LocalPlatform,
  dir: string,
  onDrained?: (position: import('./webhookJournal').JournalPosition) => void,
  apply?: ApplyTaken,
): JournalDrain {
  const turn = turnCommitOf(platform.db);
  const intake = apply && turn
    ? new JournalDirectApply({
      claims: platform.idempotency,
      deliveries: platform.deliveries,
      queue: platform.queue,
      turn,
      telemetry: platform.telemetry,
      apply,
      failsBatch: (error) => isSqliteBusy((error as { cause?: unknown } | null)?.cause ?? error),
      messagesFor: batchPerConnection,
      dedupeTtlMs: DEDUPE_TTL_MS,
    })
    : new IntakeGroupCommit(platform, DEDUPE_TTL_MS, 512, undefined, batchPerConnection);
  const drain = new JournalDrain(new JournalReader(dir), intake, {
    whenDurable: () => whenDurable(platform.db),
    applyBacklogFull: () => platform.queue.hasAvailable(QUEUES.inbound, MAX_WEBHOOK_MESSAGES_QUEUED, { messageIdPrefixes: WEBHOOK_MESSAGE_ID_PREFIXES }),
    onDrained: onDrained ?? ((position) => platform.journal?.drained(position)),
    log: (level, message, properties) => platform.telemetry.log(level, message, properties),
    recordRejections: rejectionsInHealth(platform),
    forgetCounted: forgetCountedRejections(platform),
  });
  drain.start();
  return drain;
}
