import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { WEBHOOK_BATCH_MESSAGE_ID_PREFIX, WEBHOOK_MESSAGE_ID_PREFIXES } from '../../shared/core/runs/inboundMessage';
import { IntakeGroupCommit } from '../../shared/core/webhookIntake/groupCommit';
import { QUEUES } from '../../shared/ports/queue';
import type { IntakeOutcome } from '../../shared/ports/deliveryIntake';
import { GATHER_BELOW_FRAMES, JournalDrain, type JournalDrainOptions } from '../../shared/platform/local/journalDrain';
import { decodeJournalFrame, encodeDeliveryFrame, encodeRejectionsFrame, JournalIntake, type JournalIntakeOptions } from '../../shared/platform/local/journalIntake';
import { createLocalPlatform, forgetCountedRejections, rejectionsInHealth, type LocalPlatform } from '../../shared/platform/local/localPlatform';
import type { SqliteIdempotencyStore } from '../../shared/platform/local/sqliteIdempotencyStore';
import { turnCommitOf, whenDurable } from '../../shared/platform/local/turnCommit';
import { JOURNAL_START, JournalAppender, JournalReader, readCheckpoint } from '../../shared/platform/local/webhookJournal';
import { intakeEntry, receiveAll } from '../conformance/deliveryIntake.conformance';
import { expectSyncBridgeError } from '../conformance/fixtures';
import { tempDirectory } from './helpers';

/**
 * The journal-first intake across restarts and under back-pressure (journalIntake.ts,
 * journalDrain.ts): the local platform closed and opened again on the same data folder. Deliveries
 * "journaled but not drained" come from a JournalIntake built here without a running drain (its
 * JournalDrain is run by hand, or not at all), as a host killed before its drain got to them
 * leaves them.
 */
describe('journal intake: restarts and back-pressure', () => {
  const DAY_MS = 24 * 3600_000;
  let dir: ReturnType<typeof tempDirectory>;
  const toClose: Array<() => Promise<void> | void> = [];
  const conn = 'conn-journal';
  const entry = (webhookId: string, variant = 0) => intakeEntry(conn, webhookId, variant);
  const journalDir = () => join(dir.path, 'webhook-journal');

  beforeEach(() => {
    dir = tempDirectory('syncbridge-journal-intake-');
  });
  afterEach(async () => {
    for (const close of toClose.splice(0).reverse()) await close();
    dir.remove();
  });

  /** The local platform on the test's data folder; `journal`: with the journal and its in-process drain. */
  function open(journal: boolean): LocalPlatform {
    const platform = createLocalPlatform({
      dataDir: dir.path,
      telemetrySink: new PassThrough().resume(),
      checkpointIntervalMs: 0,
      // No duplicate detection on the queue: a message sent twice must be seen twice.
      queue: { duplicateDetectionWindowMs: 0 },
      // Without the journal, the test drives its own JournalIntake and drain on the folder.
      ...(journal ? { webhookJournal: { drain: 'in-process' as const } } : { drainLeftoverJournal: false }),
    });
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await platform.close();
    };
    toClose.push(close);
    return Object.assign(Object.create(platform) as LocalPlatform, { close });
  }

  /** A JournalIntake on the platform's journal folder with a drain that runs only when told (drainAll). */
  function journalWithoutDrain(platform: LocalPlatform, options: JournalIntakeOptions = {}, drainOptions: Pick<JournalDrainOptions, 'gatherMs' | 'forgetCounted'> = {}) {
    const appender = new JournalAppender(journalDir());
    const intake = new JournalIntake(appender, platform.idempotency as SqliteIdempotencyStore, options);
    const reader = new JournalReader(journalDir());
    const drain = new JournalDrain(reader, new IntakeGroupCommit(platform, DAY_MS, 512), {
      whenDurable: () => whenDurable(platform.db),
      onDrained: (position) => intake.drained(position),
      log: () => undefined,
      recordRejections: rejectionsInHealth(platform),
      forgetCounted: forgetCountedRejections(platform),
      ...drainOptions,
    });
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      intake.close();
      appender.close();
      reader.close();
    };
    toClose.push(close);
    return { intake, drain, close };
  }

  async function settled(platform: LocalPlatform): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (platform.journal!.backlog > 0) {
      if (Date.now() > deadline) throw new Error(`The journal still holds ${platform.journal!.backlog} deliveries after 10 s.`);
      await new Promise((done) => setTimeout(done, 5));
    }
    await whenDurable(platform.db);
  }

  /** Resolves with the outcome, or with 'still waiting' if it has not come within `ms`. */
  function within(ms: number, write: Promise<IntakeOutcome>): Promise<IntakeOutcome | 'still waiting'> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'still waiting'>((done) => (timer = setTimeout(() => done('still waiting'), ms)));
    return Promise.race([write, late]).finally(() => clearTimeout(timer));
  }
  const nextTurns = async () => {
    for (let i = 0; i < 3; i += 1) await new Promise<void>((done) => setImmediate(done));
  };
  const messageIds = (platform: LocalPlatform) => receiveAll(platform.queue).map((m) => m.messageId);
  /** The deliveries enqueued, in order, whether each in its own message or in a connection's batch. */
  const enqueuedDeliveryIds = (platform: LocalPlatform) =>
    receiveAll(platform.queue).flatMap((m) => {
      const body = m.body as { kind: string; deliveryId?: string; deliveryIds?: string[] };
      return body.kind === 'webhook-batch' ? body.deliveryIds! : [body.deliveryId!];
    });

  it('keeps a drained delivery a duplicate after a restart', async () => {
    const first = open(true);
    expect(await first.journal!.write(entry('msg_a'))).toBe('accepted');
    await settled(first);
    expect(await first.deliveries.get(entry('msg_a').delivery.id)).toEqual(entry('msg_a').delivery);
    await first.close();

    const second = open(true);
    expect(second.journal!.backlog).toBe(0); // drained: the claim answers for it, not the journal
    expect(await second.journal!.write(entry('msg_a', 1))).toBe('duplicate');
    await settled(second);
    expect(await second.deliveries.get(entry('msg_a').delivery.id)).toEqual(entry('msg_a').delivery);
    expect(messageIds(second)).toEqual([entry('msg_a').message.messageId]);
  });

  it('writes a delivery frame with its body raw after the entry, and reads back the entry it wrote, whatever the body holds', () => {
    const bodies = ['{"a":"line\\nbreak","b":"\u2028 quote \\" Zoë ✓"}', 'first line\nsecond line\r\n\n', '', 'D{"not":"a frame"}\n'];
    for (const body of bodies) {
      const written = { ...entry('msg_raw'), delivery: { ...entry('msg_raw').delivery, body } };
      const frame = encodeDeliveryFrame(written);
      // The body is not escaped into the entry's JSON: it follows it as it is.
      expect(frame.endsWith(`\n${body}`)).toBe(true);
      expect(decodeJournalFrame(frame)).toEqual({ kind: 'delivery', entry: written });
    }
    expect(decodeJournalFrame('D{"claimKey":"k"}')).toBeUndefined();
    expect(decodeJournalFrame('D{"claimKey":"k","message":{}}\nbody')).toBeUndefined();
  });

  it('drains delivery frames written as the whole entry\'s JSON, the form before raw bodies', async () => {
    const appender = new JournalAppender(journalDir());
    appender.append([JSON.stringify(entry('msg_old')), encodeDeliveryFrame(entry('msg_new'))]);
    appender.close();
    const platform = open(true);
    expect(platform.journal!.backlog).toBe(2);
    expect(await platform.journal!.write(entry('msg_old', 1))).toBe('duplicate');
    await settled(platform);
    expect(await platform.deliveries.get(entry('msg_old').delivery.id)).toEqual(entry('msg_old').delivery);
    expect(await platform.deliveries.get(entry('msg_new').delivery.id)).toEqual(entry('msg_new').delivery);
  });

  it('keeps a delivery journaled but not drained a duplicate after a restart, and drains it once then', async () => {
    const first = open(false);
    const killed = journalWithoutDrain(first);
    expect(await killed.intake.write(entry('msg_b'))).toBe('accepted');
    expect(await killed.intake.write(entry('msg_c'))).toBe('accepted');
    expect(killed.intake.backlog).toBe(2);
    killed.close(); // the host dies before its drain got to them
    await first.close();

    // Back, still without a drain: the journal alone knows them.
    const second = open(false);
    const again = journalWithoutDrain(second);
    expect(again.intake.backlog).toBe(2);
    expect(await second.deliveries.get(entry('msg_b').delivery.id)).toBeUndefined();
    expect(await again.intake.write(entry('msg_b', 1))).toBe('duplicate');
    expect(await again.intake.write(entry('msg_d'))).toBe('accepted');
    again.close();
    await second.close();

    // And with the drain: everything journaled reaches the log and the queue, once.
    const third = open(true);
    expect(third.journal!.backlog).toBe(3);
    const retries = await Promise.all(['msg_b', 'msg_c', 'msg_d'].map((id) => third.journal!.write(entry(id, 2))));
    expect(retries).toEqual(['duplicate', 'duplicate', 'duplicate']);
    await settled(third);
    for (const id of ['msg_b', 'msg_c', 'msg_d']) expect(await third.deliveries.get(entry(id).delivery.id)).toEqual(entry(id).delivery);
    expect(enqueuedDeliveryIds(third)).toEqual(['msg_b', 'msg_c', 'msg_d'].map((id) => entry(id).delivery.id));
    expect(await third.journal!.write(entry('msg_c', 3))).toBe('duplicate');
    expect(readCheckpoint(journalDir())).not.toEqual(JOURNAL_START);
  });

  it('names a duplicate by the id its delivery was taken with: while journaled, after a restart, once drained; none for a claim from before ordered ids', async () => {
    // A delivery's id is in its frame (the receiver gives the journal ids that begin with their
    // receipt time, DeliveryIntake.ordersDeliveryIds): a repeat must be answered with that id,
    // not one computed again at its own receipt.
    const taken = { ...entry('msg_named'), delivery: { ...entry('msg_named').delivery, id: 'dlv_0mi9x2k3p_taken-at-receipt' } };
    const first = open(false);
    const killed = journalWithoutDrain(first);
    expect(killed.intake.ordersDeliveryIds).toBe(true);
    expect(await killed.intake.write(taken)).toBe('accepted');
    expect(killed.intake.deliveryIdOf(taken)).toBe(taken.delivery.id);
    expect(killed.intake.deliveryIdOf(entry('never-seen'))).toBeUndefined();
    killed.close();
    await first.close();

    // Restarted: read back from the journal.
    const second = open(false);
    const again = journalWithoutDrain(second);
    expect(again.intake.deliveryIdOf(taken)).toBe(taken.delivery.id);
    // Drained: the claim holds the id.
    await again.drain.drainAll();
    expect(again.intake.backlog).toBe(0);
    expect(second.idempotency.completedResult(taken.claimKey)).toBe(taken.delivery.id);
    expect(again.intake.deliveryIdOf(taken)).toBe(taken.delivery.id);
    expect(await again.intake.write(entry('msg_named', 1))).toBe('duplicate');

    // A claim completed before ordered ids holds no id: the receiver then names the derived one.
    await second.idempotency.claim('webhook:conn-journal:msg_old', DAY_MS);
    await second.idempotency.complete('webhook:conn-journal:msg_old', 'taken', { ttlMs: DAY_MS });
    expect(await again.intake.write(entry('msg_old'))).toBe('duplicate');
    expect(again.intake.deliveryIdOf(entry('msg_old'))).toBeUndefined();
  });

  it('enqueues once a delivery the drain reads again after a restart (it stored it, but died before its checkpoint)', async () => {
    const first = open(false);
    const host = journalWithoutDrain(first);
    expect(await host.intake.write(entry('msg_a'))).toBe('accepted');
    expect(await host.intake.write(entry('msg_b'))).toBe('accepted');
    await host.drain.drainAll();
    expect(host.intake.backlog).toBe(0);
    expect(messageIds(first)).toEqual([entry('msg_a').message.messageId, entry('msg_b').message.messageId]);
    host.close();
    await first.close();
    rmSync(join(journalDir(), 'drained')); // as if the checkpoint had never been saved
    expect(readCheckpoint(journalDir())).toEqual(JOURNAL_START);

    const second = open(true);
    expect(second.journal!.backlog).toBe(2); // read back from the journal: duplicates meanwhile
    expect(await second.journal!.write(entry('msg_a', 1))).toBe('duplicate');
    await settled(second);
    expect(messageIds(second)).toEqual([]);
    expect(await second.deliveries.get(entry('msg_a').delivery.id)).toEqual(entry('msg_a').delivery);
    expect(existsSync(join(journalDir(), 'drained'))).toBe(true);
  });

  it('holds a delivery back while the backlog is full, refuses it (transient) after backlogWaitMs, and takes it once the drain catches up', async () => {
    const platform = open(false);
    const { intake, drain } = journalWithoutDrain(platform, { maxBacklog: 1, backlogWaitMs: 400 });
    expect(await intake.write(entry('msg_a'))).toBe('accepted');

    const started = Date.now();
    const refused = await expectSyncBridgeError(within(3000, intake.write(entry('msg_b'))).then((o) => {
      throw new Error(`Expected a refusal, got ${o}.`);
    }), 'transient');
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(refused.message).toMatch(/behind/);
    expect(intake.backlog).toBe(1);
    // Nothing of it was journaled.
    const reader = new JournalReader(journalDir());
    expect(reader.read(JOURNAL_START, 10).frames.map((f) => decodeJournalFrame(f.payload))).toEqual([{ kind: 'delivery', entry: entry('msg_a') }]);
    reader.close();

    // The provider sends it again; the drain catches up meanwhile.
    const retry = intake.write(entry('msg_b', 1));
    expect(await within(50, retry)).toBe('still waiting');
    await drain.drainAll();
    await nextTurns();
    expect(await within(0, retry)).toBe('accepted');
    expect(intake.backlog).toBe(1);
    await drain.drainAll();
    expect(intake.backlog).toBe(0);
    expect(await platform.deliveries.get(entry('msg_b').delivery.id)).toEqual(entry('msg_b', 1).delivery);
    expect(messageIds(platform)).toEqual([entry('msg_a').message.messageId, entry('msg_b').message.messageId]);
  });

  it('paces appends past half the bound: up to half, a delivery is journaled at once; past it, after a wait in proportion', async () => {
    const platform = open(false);
    // A long pace, so that the wait stands out from the scheduling noise.
    const { intake, close } = journalWithoutDrain(platform, { maxBacklog: 10, paceMs: 400 });
    const timed = async (webhookId: string) => {
      const started = Date.now();
      expect(await intake.write(entry(webhookId))).toBe('accepted');
      return Date.now() - started;
    };
    // Up to half of 10 waiting, at once.
    for (let i = 0; i < 6; i += 1) expect(await timed(`msg_fast_${i}`)).toBeLessThan(150);
    expect(intake.backlog).toBe(6);
    // 6 waiting, one past half: 400 × 1/5 = 80 ms; then 7, 8, and 9 waiting: 400 × 4/5 = 320 ms.
    expect(await timed('msg_paced_7')).toBeGreaterThanOrEqual(75);
    await timed('msg_paced_8');
    await timed('msg_paced_9');
    expect(await timed('msg_paced_10')).toBeGreaterThanOrEqual(300);
    expect(intake.backlog).toBe(10);
    close();
    expect(() => createLocalPlatform({ dataDir: dir.path, telemetrySink: new PassThrough().resume(), checkpointIntervalMs: 0, webhookJournal: { drain: 'in-process', paceMs: -1 } })).toThrow(/paceMs must be zero or more/);
  });

  it('answers a repeat of a delivery still in the journal at once, even while the backlog is full', async () => {
    const platform = open(false);
    const { intake } = journalWithoutDrain(platform, { maxBacklog: 1, backlogWaitMs: 60_000 });
    expect(await intake.write(entry('msg_a'))).toBe('accepted');
    expect(await within(1000, intake.write(entry('msg_a', 1)))).toBe('duplicate');
    intake.close();
  });

  (existsSync('/proc/self/fd') ? it : it.skip)('leaves no journal file open once the platform is closed (it is opened again on the same folder)', async () => {
    const openJournalFiles = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(journalDir());
        } catch {
          return false; // closed meanwhile (readdir's own descriptor)
        }
      }).length;
    for (let i = 0; i < 3; i += 1) {
      const platform = open(true);
      expect(await platform.journal!.write(entry(`msg_${i}`))).toBe('accepted');
      await settled(platform);
      expect(openJournalFiles()).toBeGreaterThan(0);
      await platform.close();
      expect(openJournalFiles()).toBe(0);
    }
  });

  it.each(['close', 'stopAccepting'] as const)('refuses (transient) what waits for room, and every later delivery, after %s', async (how) => {
    const platform = open(false);
    const { intake } = journalWithoutDrain(platform, { maxBacklog: 1, backlogWaitMs: 60_000 });
    expect(await intake.write(entry('msg_a'))).toBe('accepted');
    const waiting = within(3000, intake.write(entry('msg_b')));
    await nextTurns();
    intake[how]();
    await expectSyncBridgeError(waiting, 'transient');
    await expectSyncBridgeError(intake.write(entry('msg_c')), 'transient');
    if (how === 'close') return;
    // Stopped, not closed: a host stopping waits for its drain here, and nobody else may append to the folder meanwhile.
    expect(() => new JournalAppender(journalDir())).toThrow(/Another SyncBridge host takes webhooks into the journal/);
    intake.close();
    new JournalAppender(journalDir()).close();
  });

  it('journals counts of refused deliveries: the drain writes them to health; they take no room and no key, at start either', async () => {
    const platform = open(true);
    await platform.journal!.recordRejections('conn_r', 3, '2026-03-01T10:00:00.000Z', '401: no matching signature');
    expect(platform.journal!.backlog).toBe(0);
    const deadline = Date.now() + 10_000;
    while ((await platform.deliveries.health('conn_r')).rejected === 0 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 5));
    expect(await platform.deliveries.health('conn_r')).toMatchObject({ rejected: 3, lastRejectedAt: '2026-03-01T10:00:00.000Z', lastError: '401: no matching signature', received: 0 });
    await platform.close();

    // One journaled and not drained, read back at the next start: no delivery, no key; drained then.
    const first = open(false);
    const undrained = journalWithoutDrain(first);
    await undrained.intake.recordRejections('conn_s', 2, '2026-03-01T11:00:00.000Z', '401: stale timestamp');
    undrained.close();
    const { intake, drain } = journalWithoutDrain(first);
    expect(intake.backlog).toBe(0);
    expect(await intake.write(entry('msg_after'))).toBe('accepted');
    expect(intake.backlog).toBe(1);
    await drain.drainAll();
    expect(await first.deliveries.health('conn_s')).toMatchObject({ rejected: 2, lastError: '401: stale timestamp' });
    expect(intake.backlog).toBe(0);
  });

  it('counts a count frame once when the drain reads it again after a restart (stored, but died before its checkpoint); a frame from before ids counts as before', async () => {
    const first = open(false);
    // Died before its checkpoint file was written: nor were the marks of what it counted removed.
    const host = journalWithoutDrain(first, {}, { forgetCounted: () => undefined });
    await host.intake.recordRejections('conn_once', 3, '2026-03-01T10:00:00.000Z', '401: forged');
    expect(await host.intake.write(entry('msg_once'))).toBe('accepted');
    await host.drain.drainAll();
    expect((await first.deliveries.health('conn_once')).rejected).toBe(3);
    host.close();
    await first.close();
    rmSync(join(journalDir(), 'drained')); // as if the checkpoint had never been saved
    expect(readCheckpoint(journalDir())).toEqual(JOURNAL_START);

    // A count frame as a build from before frame ids wrote it, journaled after the others.
    const old = new JournalAppender(journalDir());
    old.append([`R${JSON.stringify({ connectionId: 'conn_once', count: 4, at: '2026-03-01T11:00:00.000Z', detail: '401: stale' })}`]);
    old.close();

    const second = open(true);
    await settled(second);
    const deadline = Date.now() + 10_000;
    while ((await second.deliveries.health('conn_once')).rejected === 3 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 5));
    // Read again from the start: the first frame counts nothing more, the old one counts once.
    expect(await second.deliveries.health('conn_once')).toMatchObject({ rejected: 7, lastError: '401: stale' });
    // And the mark left by the first start goes once the new checkpoint file passes its frame.
    const marks = () => (second.db.prepare("SELECT count(*) AS n FROM idempotency_keys WHERE key LIKE 'webhook-rejections:%'").get() as { n: number }).n;
    const marksGoneBy = Date.now() + 10_000;
    while (marks() > 0 && Date.now() < marksGoneBy) await new Promise((done) => setTimeout(done, 20));
    expect(marks()).toBe(0);
  });

  it('keeps the marks of counted frames only until the checkpoint file passes them: a flood of forgeries leaves none behind', async () => {
    const platform = open(false);
    const { intake, drain } = journalWithoutDrain(platform);
    const marks = () => (platform.db.prepare("SELECT count(*) AS n FROM idempotency_keys WHERE key LIKE 'webhook-rejections:%'").get() as { n: number }).n;
    for (let i = 0; i < 10; i += 1) {
      await intake.recordRejections('conn_flood', 1, `2026-03-01T10:00:${String(i).padStart(2, '0')}.000Z`, '401: forged');
      await drain.drainAll(); // counts the frame and saves the checkpoint past it
    }
    expect((await platform.deliveries.health('conn_flood')).rejected).toBe(10);
    expect(marks()).toBe(0);
  });

  it('removes a counted frame\'s mark only once the checkpoint file has passed the frame', async () => {
    const platform = open(false);
    const releases: Array<{ ids: string[]; checkpoint: ReturnType<typeof readCheckpoint> }> = [];
    const forget = forgetCountedRejections(platform);
    const { intake, drain } = journalWithoutDrain(platform, {}, {
      forgetCounted: (ids) => {
        releases.push({ ids, checkpoint: readCheckpoint(journalDir()) });
        forget(ids);
      },
    });
    intake.setOnAppended(() => drain.wake());
    drain.start();
    toClose.push(() => drain.stop());
    for (let i = 0; i < 5; i += 1) {
      await intake.recordRejections('conn_marks', 1, `2026-03-01T10:00:0${i}.000Z`, '401: forged');
      const deadline = Date.now() + 10_000;
      while ((await platform.deliveries.health('conn_marks')).rejected < i + 1) {
        if (Date.now() > deadline) throw new Error(`Frame ${i} was not counted within 10 s.`);
        await new Promise((done) => setTimeout(done, 5));
      }
    }
    await drain.stop();
    // Every count frame, where it ends in the journal, and when its mark went.
    const reader = new JournalReader(journalDir());
    const frames = (() => {
      try {
        return reader.read(JOURNAL_START, 100).frames.flatMap((f) => {
          const content = decodeJournalFrame(f.payload);
          return content?.kind === 'rejections' ? [{ id: content.rejections.id!, end: f.end }] : [];
        });
      } finally {
        reader.close();
      }
    })();
    expect(frames).toHaveLength(5);
    const released = releases.flatMap((r) => r.ids.map((id) => ({ id, checkpoint: r.checkpoint })));
    expect(released.map((r) => r.id).sort()).toEqual(frames.map((f) => f.id).sort());
    for (const { id, checkpoint } of released) {
      const frame = frames.find((f) => f.id === id)!;
      // The checkpoint file was already at or past the frame when its mark went.
      expect(checkpoint.segment > frame.end.segment || (checkpoint.segment === frame.end.segment && checkpoint.offset >= frame.end.offset)).toBe(true);
    }
  });

  it('keeps one count frame per connection waiting for the drain: counts that come meanwhile are summed and journaled once it passes', async () => {
    const platform = open(false);
    const { intake, drain } = journalWithoutDrain(platform);
    for (let i = 0; i < 50; i += 1) await intake.recordRejections('conn_f', 2, `2026-03-01T10:00:${String(i).padStart(2, '0')}.000Z`, `401: forged ${i}`);
    await intake.recordRejections('conn_g', 1, '2026-03-01T10:00:00.000Z', '401: other');
    const countFrames = () => {
      const reader = new JournalReader(journalDir());
      try {
        return reader.read(readCheckpoint(journalDir()), 10_000).frames.filter((f) => decodeJournalFrame(f.payload)?.kind === 'rejections').length;
      } finally {
        reader.close();
      }
    };
    expect(countFrames()).toBe(2); // conn_f's first, conn_g's
    // Once the drain passes conn_f's frame, its 49 summed counts get one, which it drains next.
    await drain.drainAll();
    expect(countFrames()).toBe(0);
    expect(await platform.deliveries.health('conn_f')).toMatchObject({ rejected: 100, lastRejectedAt: '2026-03-01T10:00:49.000Z', lastError: '401: forged 49' });
    expect((await platform.deliveries.health('conn_g')).rejected).toBe(1);
    // A count frame is not JSON: a build that knows only delivery frames skips it instead of stalling on it.
    expect(() => JSON.parse(encodeRejectionsFrame({ connectionId: 'c', count: 1, at: '2026-03-01T10:00:00.000Z', detail: '401' }))).toThrow();
  });

  it('counts refused deliveries once when the batch holding them waits for a delivery another attempt still claims', async () => {
    const platform = open(false);
    const { intake, drain } = journalWithoutDrain(platform);
    expect(await intake.write(entry('msg_held'))).toBe('accepted');
    await intake.recordRejections('conn_h', 5, '2026-03-01T10:00:00.000Z', '401: forged');
    // Another attempt holds the delivery's claim: the drain stops before it, and tries again.
    await platform.idempotency.claim(entry('msg_held').claimKey, DAY_MS);
    await drain.drainAll();
    await drain.drainAll();
    expect((await platform.deliveries.health('conn_h')).rejected).toBe(0);
    expect(intake.backlog).toBe(1);
    await platform.idempotency.release(entry('msg_held').claimKey);
    await drain.drainAll();
    await drain.drainAll();
    expect((await platform.deliveries.health('conn_h')).rejected).toBe(5);
    expect(intake.backlog).toBe(0);
  });


  it('reads the claims of a turn\'s deliveries in one read: stored, held, fresh and repeated keys each get their outcome; a failed read fails that turn only', async () => {
    const platform = open(false);
    const claims = platform.idempotency as SqliteIdempotencyStore;
    await claims.claim(entry('msg_stored').claimKey, DAY_MS);
    await claims.complete(entry('msg_stored').claimKey, 'dlv_stored');
    await claims.claim(entry('msg_held').claimKey, DAY_MS);
    const reads: string[][] = [];
    let failNext = false;
    const counted = {
      peekMany: (keys: readonly string[]) => {
        reads.push([...keys]);
        if (failNext) {
          failNext = false;
          throw new Error('SQLITE_IOERR: disk I/O error');
        }
        return claims.peekMany(keys);
      },
      completedResult: (key: string) => claims.completedResult(key),
    };
    const appender = new JournalAppender(journalDir());
    toClose.push(() => appender.close());
    const intake = new JournalIntake(appender, counted);
    toClose.push(() => intake.close());
    const names = ['msg_stored', 'msg_held', 'msg_a', 'msg_a', 'msg_stored', 'msg_b', 'msg_c', 'msg_d'];
    const outcomes = await Promise.all(names.map((name, i) => intake.write(entry(name, i))));
    expect(outcomes).toEqual(['duplicate', 'in_progress', 'accepted', 'duplicate', 'duplicate', 'accepted', 'accepted', 'accepted']);
    expect(reads).toEqual([[entry('msg_stored').claimKey, entry('msg_held').claimKey, entry('msg_a').claimKey, entry('msg_b').claimKey, entry('msg_c').claimKey, entry('msg_d').claimKey]]);
    failNext = true;
    const failed = await Promise.allSettled([intake.write(entry('msg_e')), intake.write(entry('msg_e', 1)), intake.write(entry('msg_f'))]);
    expect(failed.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : o.value))).toEqual(Array(3).fill('SQLITE_IOERR: disk I/O error'));
    expect(await Promise.all([intake.write(entry('msg_e')), intake.write(entry('msg_f'))])).toEqual(['accepted', 'accepted']);
    expect(intake.backlog).toBe(6);
  });

  it('answers a repeat of a key in the same batch only after the first is journaled: the same failure when the append fails', async () => {
    const platform = open(false);
    const appender = new JournalAppender(journalDir());
    toClose.push(() => appender.close());
    const intake = new JournalIntake(appender, platform.idempotency as SqliteIdempotencyStore);
    toClose.push(() => intake.close());
    const append = appender.append.bind(appender);
    appender.append = () => {
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    };
    const outcomes = await Promise.allSettled([intake.write(entry('msg_full')), intake.write(entry('msg_full', 1))]);
    expect(outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : o.value))).toEqual(['ENOSPC: no space left on device', 'ENOSPC: no space left on device']);
    appender.append = append;
    expect(await Promise.all([intake.write(entry('msg_full')), intake.write(entry('msg_full', 1))])).toEqual(['accepted', 'duplicate']);
  });

  describe('the running drain gathers a trickle', () => {
    async function until(what: string, done: () => boolean): Promise<void> {
      const deadline = Date.now() + 5000;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`Still waiting for ${what}.`);
        await new Promise((r) => setTimeout(r, 2));
      }
    }

    it('reads the first delivery after an idle spell at once; those arriving within gatherMs of a small batch share the next batch and its commit', async () => {
      const platform = open(false);
      const { intake, drain } = journalWithoutDrain(platform, {}, { gatherMs: 300 });
      intake.setOnAppended(() => drain.wake());
      drain.start();
      toClose.push(() => drain.stop());
      expect(await intake.write(entry('msg_1'))).toBe('accepted');
      await until('the first delivery', () => drain.drainedCount === 1);
      await whenDurable(platform.db);
      const commits = turnCommitOf(platform.db)!.commits;
      for (const id of ['msg_2', 'msg_3', 'msg_4']) {
        expect(await intake.write(entry(id))).toBe('accepted');
        await new Promise((r) => setTimeout(r, 10));
      }
      await until('all four', () => drain.drainedCount === 4);
      await whenDurable(platform.db);
      expect(turnCommitOf(platform.db)!.commits - commits).toBe(1);
      expect(drain.batchCount).toBe(2);
      expect(enqueuedDeliveryIds(platform)).toEqual(['msg_1', 'msg_2', 'msg_3', 'msg_4'].map((id) => entry(id).delivery.id));
    });

    it(`does not wait after a batch of ${GATHER_BELOW_FRAMES} or more, and stop ends a wait at once`, async () => {
      const platform = open(false);
      const { intake, drain } = journalWithoutDrain(platform, {}, { gatherMs: 60_000 });
      // A full batch journaled before the drain starts, then one more while it applies that one.
      await Promise.all(Array.from({ length: GATHER_BELOW_FRAMES }, (_, i) => intake.write(entry(`msg_${i}`))));
      intake.setOnAppended(() => drain.wake());
      drain.start();
      expect(await intake.write(entry('msg_last'))).toBe('accepted');
      await until('every delivery', () => drain.drainedCount === GATHER_BELOW_FRAMES + 1);
      // The last batch was small: the drain now waits a minute, and stop does not.
      await drain.stop();
      expect(enqueuedDeliveryIds(platform)).toHaveLength(GATHER_BELOW_FRAMES + 1);
    });
  });

  it('writes the checkpoint file once the drain is idle, even right after a checkpoint (a restart long after does not read stored deliveries again)', async () => {
    const platform = open(true);
    expect(await platform.journal!.write(entry('msg_one'))).toBe('accepted');
    await settled(platform);
    expect(await platform.journal!.write(entry('msg_two'))).toBe('accepted');
    await settled(platform);
    const end = new JournalReader(journalDir());
    toClose.push(() => end.close());
    const last = (() => {
      let position = JOURNAL_START;
      for (;;) {
        const { frames, next } = end.read(position, 100);
        if (frames.length === 0 && next.offset === position.offset && next.segment === position.segment) return position;
        position = next;
      }
    })();
    const deadline = Date.now() + 2000;
    while (JSON.stringify(readCheckpoint(journalDir())) !== JSON.stringify(last)) {
      if (Date.now() > deadline) throw new Error(`The checkpoint file stayed at ${JSON.stringify(readCheckpoint(journalDir()))}, not ${JSON.stringify(last)}.`);
      await new Promise((done) => setTimeout(done, 10));
    }
  });

  it('lets one appender at a time take a journal folder: a second in this process or another process is refused; a killed holder\'s lock is gone with it', async () => {
    const first = new JournalAppender(journalDir());
    expect(() => new JournalAppender(journalDir())).toThrow(/Another SyncBridge host takes webhooks into the journal/);
    first.close();
    const second = new JournalAppender(journalDir());
    second.close();

    // Another process takes the lock, as a host would, and is killed without letting go.
    const holder = spawn(process.execPath, ['-e', `
      const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
      const lock = new Database(${JSON.stringify(join(journalDir(), 'appender.lock.db'))}, { timeout: 0 });
      lock.pragma('locking_mode = EXCLUSIVE');
      lock.exec('BEGIN EXCLUSIVE');
      process.stdout.write('held');
      setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((done) => holder.stdout!.once('data', () => done()));
    expect(() => new JournalAppender(journalDir())).toThrow(/Another SyncBridge host/);
    const exited = new Promise((done) => holder.once('exit', done));
    holder.kill('SIGKILL');
    await exited;
    const after = new JournalAppender(journalDir());
    after.close();
  });

  it('drains a journal left by an earlier start when a platform opens without the journal and is asked to (npm start without it)', async () => {
    const first = open(false);
    const killed = journalWithoutDrain(first);
    expect(await killed.intake.write(entry('msg_left_1'))).toBe('accepted');
    expect(await killed.intake.write(entry('msg_left_2'))).toBe('accepted');
    killed.close();
    await first.close();

    // A process that merely opens the platform leaves it alone.
    const bystander = createLocalPlatform({ dataDir: dir.path, telemetrySink: new PassThrough().resume(), checkpointIntervalMs: 0 });
    await new Promise((done) => setTimeout(done, 50));
    expect(await bystander.deliveries.get(entry('msg_left_1').delivery.id)).toBeUndefined();
    await bystander.close();

    const second = createLocalPlatform({ dataDir: dir.path, telemetrySink: new PassThrough().resume(), checkpointIntervalMs: 0, queue: { duplicateDetectionWindowMs: 0 }, drainLeftoverJournal: true });
    toClose.push(() => second.close());
    const deadline = Date.now() + 5000;
    while ((await second.deliveries.get(entry('msg_left_2').delivery.id)) === undefined) {
      if (Date.now() > deadline) throw new Error('The journal left behind was not drained.');
      await new Promise((done) => setTimeout(done, 10));
    }
    expect(await second.deliveries.get(entry('msg_left_1').delivery.id)).toEqual(entry('msg_left_1').delivery);
    await second.close();
    expect(readCheckpoint(journalDir())).not.toEqual(JOURNAL_START);
  });

  it('holds new deliveries back while a platform without the journal drains one left behind: a resend finds the claim and the id the journal answered with', async () => {
    const first = open(false);
    const killed = journalWithoutDrain(first);
    // More than one drained batch ahead of it, so that the drain reaches it in a later turn.
    await Promise.all(Array.from({ length: 600 }, (_, i) => killed.intake.write(entry(`msg_ahead_${i}`))));
    const answered = { ...entry('msg_resent'), delivery: { ...entry('msg_resent').delivery, id: 'dlv_0mi9x2k3pjournaledfirst1' } };
    expect(await killed.intake.write(answered)).toBe('accepted');
    killed.close();
    await first.close();

    // npm start without the journal: the receiver hands deliveries to the platform's intake.
    const second = createLocalPlatform({ dataDir: dir.path, telemetrySink: new PassThrough().resume(), checkpointIntervalMs: 0, queue: { duplicateDetectionWindowMs: 0 }, drainLeftoverJournal: true });
    toClose.push(() => second.close());
    const intake = second.webhookIntake!;
    expect(intake).toBeDefined();
    const resend = entry('msg_resent', 1);
    expect(await intake.write(resend)).toBe('duplicate');
    expect(intake.deliveryIdOf!(resend)).toBe(answered.delivery.id);
    expect(await second.deliveries.get(answered.delivery.id)).toMatchObject({ webhookId: 'msg_resent' });
    expect(await second.deliveries.get(entry('msg_resent').delivery.id)).toBeUndefined();
    // Once it is drained, deliveries are taken as without a journal.
    expect(await intake.write(entry('msg_new'))).toBe('accepted');
    expect(await second.deliveries.get(entry('msg_new').delivery.id)).toEqual(entry('msg_new').delivery);
    await second.close();
  });

  it('enqueues a burst of one connection as batch messages of at most 64 deliveries, in journal order', async () => {
    const platform = open(true);
    const burst = Array.from({ length: 150 }, (_, n) => entry(`msg_burst_${n}`));
    expect(new Set(await Promise.all(burst.map((e) => platform.journal!.write(e))))).toEqual(new Set(['accepted']));
    await settled(platform);
    const bodies = receiveAll(platform.queue).map((m) => m.body as { kind: string; deliveryId?: string; deliveryIds?: string[] });
    expect(bodies.some((b) => b.kind === 'webhook-batch')).toBe(true);
    for (const b of bodies) expect((b.deliveryIds ?? [b.deliveryId]).length).toBeLessThanOrEqual(64);
    expect(bodies.flatMap((b) => b.deliveryIds ?? [b.deliveryId!])).toEqual(burst.map((e) => e.delivery.id));
  });

  it('drains while sync steps wait on sync-inbound, and waits while 64 webhook messages do', async () => {
    const platform = open(true);
    const queue = platform.queue;
    for (let n = 0; n < 100; n += 1) await queue.send(QUEUES.inbound, { body: { kind: 'step', n }, messageId: `step-${n}` });
    expect(await platform.journal!.write(entry('msg_behind_steps'))).toBe('accepted');
    await settled(platform); // a sync backlog does not hold webhooks back
    // The drained delivery's own message waits too: 63 more make 64.
    for (let n = 0; n < 63; n += 1) await queue.send(QUEUES.inbound, { body: { n }, messageId: `${WEBHOOK_BATCH_MESSAGE_ID_PREFIX}test-${n}` });
    await whenDurable(platform.db);
    expect(await platform.journal!.write(entry('msg_behind_batches'))).toBe('accepted');
    await new Promise((done) => setTimeout(done, 300));
    expect(platform.journal!.backlog).toBe(1);
    let received = queue.receive(QUEUES.inbound);
    while (received && !WEBHOOK_MESSAGE_ID_PREFIXES.some((p) => received!.messageId.startsWith(p))) received = queue.receive(QUEUES.inbound);
    queue.complete(received!.lockToken);
    await settled(platform);
  });

  it('gives the journal folder back when the platform cannot be built after taking it', async () => {
    const build = (maxBacklog: number) =>
      createLocalPlatform({ dataDir: dir.path, telemetrySink: new PassThrough().resume(), checkpointIntervalMs: 0, webhookJournal: { drain: 'in-process', maxBacklog } });
    expect(() => build(0)).toThrow(/maxBacklog/);
    const platform = build(10);
    toClose.push(() => platform.close());
    expect(await platform.journal!.write(entry('msg_after'))).toBe('accepted');
  });
});
