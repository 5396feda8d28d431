import type { DeliveryIntake } from '../../ports/deliveryIntake';
import { decodeJournalFrame, type RejectionsFrame } from './journalIntake';
import { comparePositions, readCheckpoint, type JournalPosition, type JournalReader } from './webhookJournal';

export interface JournalDrainOptions {
  /** Resolves once the intake's writes so far are committed (the local platform's turn commit). */
  whenDurable: () => Promise<void>;
  /** Told after each commit how far the journal is drained (the receiving thread's JournalIntake.drained). */
  onDrained: (position: JournalPosition) => void;
  /**
   * True while the deliveries already enqueued wait to be applied past a bound: the drain then
   * waits too, so the backlog (and the time from receipt to stored) stays bounded, and the
   * receiving side's own bound holds new deliveries back. Default: never full.
   */
  applyBacklogFull?: () => boolean;
  log: (level: 'warn' | 'error', message: string, properties?: Record<string, string | number>) => void;
  /**
   * Writes the journaled counts of refused deliveries of a batch to webhook health
   * (journalIntake.ts, recordRejections), each frame once however often it is read (countedOnce),
   * in the batch's commit.
   */
  recordRejections?: (counts: ReadonlyArray<RejectionsFrame['rejections']>) => Promise<void>;
  /**
   * Count frames (by id) the checkpoint file has now passed: never read again, so the marks that
   * kept them from counting twice (their claims) can go, and those marks stay as few as the frames
   * the drain may still read again (without this a flood of forgeries left a claim per count frame
   * for a day).
   */
  forgetCounted?: (frameIds: string[]) => void;
  /** Frames per batch. Default 512. */
  maxBatch?: number;
  /** How often to look for new frames when nothing woke the drain. Default 50 ms. */
  pollIntervalMs?: number;
  /** Wait after a failed batch, doubled up to 5 s. Default 100 ms. */
  retryDelayMs?: number;
  /**
   * After a small batch (under GATHER_BELOW_FRAMES), how long the drain waits before reading the
   * next, so that the deliveries arriving meanwhile share one batch and one commit instead of a
   * commit each. The first batch after an idle spell is read at once. Default 5 ms; 0 turns it off.
   */
  gatherMs?: number;
}

const APPLY_BACKLOG_RECHECK_MS = 5;
/** A batch of fewer frames than this makes the drain gather for gatherMs before the next. */
export const GATHER_BELOW_FRAMES = 64;
const CHECKPOINT_EVERY_MS = 250;

/**
 * Hands journaled deliveries on (journalIntake.ts): reads a batch of frames, hands each delivery
 * to the intake — JournalDirectApply on the applier thread, which applies them at once
 * (journalApply.ts), or IntakeGroupCommit, which logs and enqueues them for the worker (one claim
 * call, one log write and one send for the batch) — and the batch's counts of refused deliveries
 * to webhook health, waits for the commit, then saves the checkpoint and reports it. A batch
 * that fails is tried again from the same place after a pause; one read again after a crash finds
 * its claims and is dropped as duplicates, so every delivery is logged and enqueued once.
 */
export class JournalDrain {
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private position: JournalPosition;
  /** The position in the checkpoint file, and when it was written. */
  private saved: JournalPosition;
  private savedAt = 0;
  private readonly maxBatch: number;
  private readonly pollIntervalMs: number;
  private readonly retryDelayMs: number;
  private readonly gatherMs: number;
  /** Count frames with an id that were counted (or found counted), until the checkpoint file passes them. */
  private countedFrames: Array<{ id: string; end: JournalPosition }> = [];
  /** Frames in the last batch read. */
  private lastBatchFrames = 0;
  /** Ends a gathering wait early (stop). */
  private endGathering: (() => void) | undefined;
  /** Deliveries drained so far, for tests and the bench. */
  drainedCount = 0;
  /** Batches that moved the drain so far, for tests and the bench. */
  batchCount = 0;

  constructor(
    private readonly reader: JournalReader,
    private readonly intake: DeliveryIntake,
    private readonly options: JournalDrainOptions,
  ) {
    this.position = readCheckpoint(reader.dir);
    this.saved = this.position;
    this.maxBatch = options.maxBatch ?? 512;
    this.pollIntervalMs = options.pollIntervalMs ?? 50;
    this.retryDelayMs = options.retryDelayMs ?? 100;
    this.gatherMs = options.gatherMs ?? 5;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** New frames were appended. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Finishes the batch in hand and stops (closing its segment file; a later read opens it again). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.endGathering?.();
    this.wake();
    await this.loop;
    this.saveCheckpoint();
    this.reader.close();
  }

  /** Drains everything journaled so far, as far as it can go now (tests, and a journal left behind, localPlatform.ts). */
  async drainAll(): Promise<void> {
    while (await this.drainOnce()) {
      // until a batch moves nothing
    }
    this.saveCheckpoint();
  }

  private async run(): Promise<void> {
    let delay = this.retryDelayMs;
    while (!this.stopped) {
      try {
        if (this.options.applyBacklogFull?.()) {
          // Applying frees room message by message: look again soon.
          await this.idle(APPLY_BACKLOG_RECHECK_MS);
          continue;
        }
        const moved = await this.drainOnce();
        delay = this.retryDelayMs;
        // A trickle: let what arrives in the next few ms share the next batch's commit. Under
        // load batches are full and nothing waits; after an idle spell the first is read at once.
        if (moved && this.lastBatchFrames > 0 && this.lastBatchFrames < Math.min(GATHER_BELOW_FRAMES, this.maxBatch)) await this.gather(this.gatherMs);
        if (!moved) {
          // Caught up: the checkpoint file catches up too (within CHECKPOINT_EVERY_MS), so that a
          // restart much later (past the claims' 24 h) does not read stored deliveries again.
          if (Date.now() - this.savedAt >= CHECKPOINT_EVERY_MS) this.saveCheckpoint();
          await this.idle(this.pollIntervalMs);
        }
      } catch (error) {
        this.options.log('warn', 'Draining the webhook journal failed; trying again.', { reason: (error as Error).message, retryInMs: delay });
        await this.idle(delay);
        delay = Math.min(5000, delay * 2);
      }
    }
  }

  /** One batch; false when it moved nothing (nothing new, or its first delivery must wait). */
  private async drainOnce(): Promise<boolean> {
    const { frames, next, skippedBytes } = this.reader.read(this.position, this.maxBatch);
    this.lastBatchFrames = frames.length;
    if (skippedBytes > 0) this.options.log('error', 'Unreadable bytes at the end of a finished webhook journal segment were skipped.', { bytes: skippedBytes });
    if (frames.length === 0) {
      if (comparePositions(next, this.position) === 0) return false;
      this.checkpoint(next);
      return true;
    }
    const entries = frames.map((frame) => {
      const entry = decodeJournalFrame(frame.payload);
      if (entry === undefined) this.options.log('error', 'An unreadable webhook journal frame was skipped.', { segment: frame.end.segment, offset: frame.end.offset });
      return entry;
    });
    // Deliveries first; counts of refused deliveries only up to the first delivery that must wait,
    // and in the same commit, so that a batch tried again never counts them twice.
    const outcomes = await Promise.all(entries.map((entry) => (entry?.kind === 'delivery' ? this.intake.write(entry.entry) : Promise.resolve('accepted' as const))));
    // Stored up to the first delivery whose claim another attempt still holds: that one waits.
    const waitingAt = outcomes.indexOf('in_progress');
    const stored = waitingAt === -1 ? entries : entries.slice(0, waitingAt);
    const counts = stored.flatMap((entry, i) => (entry?.kind === 'rejections' ? [{ rejections: entry.rejections, end: frames[i].end }] : []));
    await this.countRejections(counts.map((c) => c.rejections));
    for (const { rejections, end } of counts) if (rejections.id !== undefined) this.countedFrames.push({ id: rejections.id, end });
    await this.options.whenDurable();
    const upTo = waitingAt === -1 ? next : waitingAt === 0 ? this.position : frames[waitingAt - 1].end;
    this.drainedCount += stored.filter((entry) => entry?.kind === 'delivery').length;
    const moved = comparePositions(upTo, this.position) > 0;
    if (moved) {
      this.batchCount += 1;
      this.checkpoint(upTo);
    }
    if (waitingAt !== -1) {
      const waiting = entries[waitingAt];
      this.options.log('warn', 'A journaled webhook delivery waits for an earlier attempt of it to finish.', { claimKey: waiting?.kind === 'delivery' ? waiting.entry.claimKey : '' });
      if (!moved) await this.idle(1000);
    }
    return moved;
  }

  /** Journaled counts of refused deliveries, summed per connection, written to webhook health (nowhere without a writer). */
  private async countRejections(counts: ReadonlyArray<RejectionsFrame['rejections']>): Promise<void> {
    const record = this.options.recordRejections;
    if (record === undefined || counts.length === 0) return;
    await record(counts);
  }

  /**
   * Moves on to `position`: the receiving side hears at once (the commit is done); the checkpoint
   * file is written at most every CHECKPOINT_EVERY_MS, and at stop. After a crash the drain reads
   * again what it stored since the last write, and the claims drop it as duplicates.
   */
  private checkpoint(position: JournalPosition): void {
    this.position = position;
    this.options.onDrained(position);
    if (Date.now() - this.savedAt >= CHECKPOINT_EVERY_MS) this.saveCheckpoint();
  }

  private saveCheckpoint(): void {
    if (comparePositions(this.position, this.saved) === 0) return;
    this.reader.saveCheckpoint(this.position);
    this.saved = this.position;
    this.savedAt = Date.now();
    if (this.countedFrames.length === 0 || this.options.forgetCounted === undefined) return;
    const passed = this.countedFrames.filter((f) => comparePositions(f.end, this.saved) <= 0);
    if (passed.length === 0) return;
    this.countedFrames = this.countedFrames.filter((f) => comparePositions(f.end, this.saved) > 0);
    try {
      this.options.forgetCounted(passed.map((f) => f.id));
    } catch (error) {
      // Left behind, the marks lapse with their TTL; nothing is counted twice meanwhile.
      this.options.log('warn', 'The marks of counted webhook refusal frames could not be removed; they lapse within a day.', { reason: (error as Error).message });
    }
  }

  /** Waits `ms` whatever is appended meanwhile (wake does not end it; stop does). */
  private gather(ms: number): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve();
    return new Promise<void>((done) => {
      const finish = () => {
        clearTimeout(timer);
        this.endGathering = undefined;
        done();
      };
      const timer = setTimeout(finish, ms);
      timer.unref();
      this.endGathering = finish;
    });
  }

  private idle(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((done) => {
      const timer = setTimeout(finish, ms);
      timer.unref(); // the drain keeps nothing alive: its host or platform does
      function finish() {
        clearTimeout(timer);
        done();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        finish();
      };
    });
  }
}

