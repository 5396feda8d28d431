import { randomBytes } from 'node:crypto';
import { SyncBridgeError } from '../../core/errors';
import { deliveryIdIn } from '../../core/webhookIntake/turnBatchedIntake';
import type { DeliveryIntake, IntakeEntry, IntakeOutcome } from '../../ports/deliveryIntake';
import { comparePositions, JournalReader, readCheckpoint, type JournalAppender, type JournalPosition } from './webhookJournal';

/** The duplicate check against claims the drain already stored (SqliteIdempotencyStore.peekMany, completedResult). */
export interface ClaimPeek {
  /** The live claims among the keys, `held` or `completed`; a key left out is free. */
  peekMany(keys: readonly string[]): ReadonlyMap<string, 'held' | 'completed'>;
  /** What a completed claim holds: its delivery's id, for claims the drain stored since ordered ids. */
  completedResult(key: string): unknown;
}

/** A delivery in the journal, not drained yet: where its frame ends, and the id it was taken with. */
interface Journaled {
  key: string;
  end: JournalPosition;
  deliveryId: string;
}

export interface JournalIntakeOptions {
  /**
   * Deliveries journaled but not drained yet past which new ones wait for the drain
   * (back-pressure: the journal, and the time from receipt to stored, stay bounded). Default 2,000.
   */
  maxBacklog?: number;
  /** How long a delivery waits for room before it is refused (`transient`, 503). Default 10,000 ms. */
  backlogWaitMs?: number;
  /**
   * Pacing before the bound: once more than half of `maxBacklog` waits for the drain, each turn's
   * appends wait up to this many milliseconds, in proportion to how far past half the backlog is,
   * so that senders slow a little and evenly (and the drain's thread gets the CPU), instead of all
   * of them stopping at the bound until the drain's next commit. 0 turns it off. Default 4
   * (docs/webhook-intake.md "Pacing before the bound").
   */
  paceMs?: number;
  /** Called after each append (the host wakes the drain with it). */
  onAppended?: () => void;
}

interface Waiting {
  entry: IntakeEntry;
  since: number;
  done: (outcome: IntakeOutcome) => void;
  fail: (error: unknown) => void;
}

/**
 * The local platform's DeliveryIntake, journal first (docs/webhook-intake.md): the deliveries
 * verified in one event-loop turn are appended to the webhook journal with one write and answered
 * `accepted` at once; a drain (journalDrain.ts, on the thread that applies them) stores their
 * claims, log rows and messages later. So the receiving thread writes nothing to SQLite.
 *
 * Duplicates: a key is a duplicate when it is in the journal and not drained yet (kept here, in
 * memory, with its position), or when the drain stored its claim (read from SQLite; the drain
 * reports its progress only after its commit, so a key is always in one or the other). At
 * start, the keys between the drain's checkpoint and the end of the journal are read back.
 */
export class JournalIntake implements DeliveryIntake {
  /** Frames carry their delivery's id, so a drain tried again, or read again after a crash, sees the one it was answered with. */
  readonly ordersDeliveryIds = true;
  private readonly pending = new Map<string, Journaled>();
  /** Per connection, where its count frame of refused deliveries ends, until the drain passes it. */
  private readonly rejectionFrames = new Map<string, JournalPosition>();
  /** Counts of refused deliveries that came while their connection's count frame waited. */
  private readonly heldRejections = new Map<string, RejectionsFrame['rejections']>();
  /** Pending keys in journal order, for dropping them as the drain moves on. */
  private order: Journaled[] = [];
  private orderHead = 0;
  private waiting: Waiting[] = [];
  private scheduled = false;
  private readonly maxBacklog: number;
  private readonly backlogWaitMs: number;
  private readonly paceMs: number;
  private onAppended: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly appender: JournalAppender,
    private readonly claims: ClaimPeek,
    options: JournalIntakeOptions = {},
  ) {
    this.maxBacklog = options.maxBacklog ?? 2000;
    this.backlogWaitMs = options.backlogWaitMs ?? 10_000;
    this.paceMs = options.paceMs ?? 4;
    if (!Number.isInteger(this.maxBacklog) || this.maxBacklog < 1) throw new SyncBridgeError('configuration', `maxBacklog must be a whole number of at least 1, got ${options.maxBacklog}.`);
    if (!(this.paceMs >= 0)) throw new SyncBridgeError('configuration', `paceMs must be zero or more, got ${options.paceMs}.`);
    this.onAppended = options.onAppended;
    this.restorePending();
  }

  /** The journal's folder (the drain reads it). */
  get dir(): string {
    return this.appender.dir;
  }

  /** Deliveries journaled and not drained yet. */
  get backlog(): number {
    return this.pending.size;
  }

  /** Where the host wakes the drain (set once the drain exists). */
  setOnAppended(listener: () => void): void {
    this.onAppended = listener;
  }

  /** The id of the delivery taken under the entry's key: in the journal, or in the claim the drain stored (undefined for a claim from before ordered ids). */
  deliveryIdOf(entry: IntakeEntry): string | undefined {
    const journaled = this.pending.get(entry.claimKey);
    if (journaled !== undefined) return journaled.deliveryId;
    return deliveryIdIn(this.claims.completedResult(entry.claimKey));
  }

  write(entry: IntakeEntry): Promise<IntakeOutcome> {
    if (this.closed) return Promise.reject(new SyncBridgeError('transient', 'The webhook intake is stopping; send the delivery again.', { forCaller: true }));
    return new Promise<IntakeOutcome>((done, fail) => {
      this.waiting.push({ entry, since: Date.now(), done, fail });
      this.schedule();
    });
  }

  /**
   * Journals a count of refused deliveries (DeliveryIntake.recordRejections): the drain writes it
   * to webhook health, so the receiving thread writes no store for a refusal. At most one count
   * frame per connection waits for the drain: counts that come meanwhile are summed here and
   * journaled once it has passed, so a flood of forgeries while the drain is held back (its
   * thread restarting, the apply backlog full) adds no more than a frame per connection. Each
   * frame carries an id, and the drain counts a frame once however often it reads it (countedOnce).
   * Counts still summed here when the process dies are lost: health's counts are for the
   * operator's eye; deliveries themselves are never lost or counted twice.
   */
  recordRejections(connectionId: string, count: number, at: string, detail: string): Promise<void> {
    if (this.closed) return Promise.reject(new SyncBridgeError('transient', 'The webhook intake is stopping.', { forCaller: true }));
    if (this.rejectionFrames.has(connectionId)) {
      const held = this.heldRejections.get(connectionId);
      this.heldRejections.set(connectionId, held ? { connectionId, count: held.count + count, ...(held.at > at ? { at: held.at, detail: held.detail } : { at, detail }) } : { connectionId, count, at, detail });
      return Promise.resolve();
    }
    try {
      this.appendRejections({ connectionId, count, at, detail });
    } catch (error) {
      return Promise.reject(error);
    }
    this.onAppended?.();
    return Promise.resolve();
  }

  private appendRejections(rejections: RejectionsFrame['rejections']): void {
    const [end] = this.appender.append([encodeRejectionsFrame(withFrameId(rejections))]);
    this.rejectionFrames.set(rejections.connectionId, end);
  }

  /** Once a connection's count frame is drained, the counts summed meanwhile get their own. */
  private journalHeldRejections(position: JournalPosition): void {
    let appended = false;
    for (const [connectionId, end] of this.rejectionFrames) {
      if (comparePositions(end, position) > 0) continue;
      this.rejectionFrames.delete(connectionId);
      const held = this.heldRejections.get(connectionId);
      if (held === undefined || this.closed) continue;
      this.heldRejections.delete(connectionId);
      try {
        this.appendRejections(held);
        appended = true;
      } catch {
        // Not journaled: these counts are lost (the refusals were answered; only health misses them).
      }
    }
    if (appended) this.onAppended?.();
  }

  /** The drain stored everything before `position`: those keys are now the claims' to answer. */
  drained(position: JournalPosition): void {
    while (this.orderHead < this.order.length && comparePositions(this.order[this.orderHead].end, position) <= 0) {
      const journaled = this.order[this.orderHead];
      if (this.pending.get(journaled.key) === journaled) this.pending.delete(journaled.key);
      this.orderHead += 1;
    }
    if (this.rejectionFrames.size > 0) this.journalHeldRejections(position);
    if (this.orderHead > 4096 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
    if (this.waiting.length > 0) this.schedule();
  }

  /** Refuses what still waits for room and every later write (the host is stopping). */
  stopAccepting(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.fail(new SyncBridgeError('transient', 'The webhook intake is stopping; send the delivery again.', { forCaller: true }));
  }

  /**
   * Stops accepting (stopAccepting) and closes the journal's appender, giving its folder's lock
   * back. A drain may go on reading; a host closes it once its own drain has stopped.
   */
  close(): void {
    this.stopAccepting();
    // Counts summed while their frame waited: journaled for the next start's drain.
    for (const held of this.heldRejections.values()) {
      try {
        this.appender.append([encodeRejectionsFrame(withFrameId(held))]);
      } catch {
        break; // the journal cannot take them: only health misses them
      }
    }
    this.heldRejections.clear();
    this.appender.close();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const pace = this.paceNow();
    if (pace > 0) setTimeout(() => this.flush(), pace);
    else setImmediate(() => this.flush());
  }

  /** How long this turn's appends wait (JournalIntakeOptions.paceMs): none up to half the bound, then up to paceMs at it. */
  private paceNow(): number {
    const half = this.maxBacklog / 2;
    if (this.paceMs === 0 || this.pending.size <= half) return 0;
    return Math.ceil((this.paceMs * Math.min(this.pending.size - half, half)) / half);
  }

  private flush(): void {
    this.scheduled = false;
    // A repeat of a delivery still in the journal needs no room: it is answered at once.
    if (this.pending.size >= this.maxBacklog) {
      this.waiting = this.waiting.filter((w) => {
        if (!this.pending.has(w.entry.claimKey)) return true;
        w.done('duplicate');
        return false;
      });
    }
    const room = this.maxBacklog - this.pending.size;
    const batch = this.waiting.splice(0, Math.max(0, room));
    this.refuseLongWaits();
    if (batch.length === 0) return;
    const fresh: Waiting[] = [];
    // A key repeated in this batch follows its first mention's fate: duplicate once that one is
    // journaled, the same failure if the append fails (never "received before" for nothing).
    const followers = new Map<string, Waiting[]>();
    const firsts: Waiting[] = [];
    for (const w of batch) {
      const key = w.entry.claimKey;
      if (this.pending.has(key)) {
        w.done('duplicate');
        continue;
      }
      const repeats = followers.get(key);
      if (repeats) {
        repeats.push(w);
        continue;
      }
      followers.set(key, []);
      firsts.push(w);
    }
    // The claims the drain stored, read for the whole batch at once.
    let claimed: ReadonlyMap<string, 'held' | 'completed'> = new Map();
    try {
      if (firsts.length > 0) claimed = this.claims.peekMany(firsts.map((w) => w.entry.claimKey));
    } catch (error) {
      for (const w of firsts.splice(0)) {
        w.fail(error);
        for (const f of followers.get(w.entry.claimKey)!) f.fail(error);
      }
    }
    for (const w of firsts) {
      const state = claimed.get(w.entry.claimKey);
      if (state === undefined) {
        fresh.push(w);
        continue;
      }
      const outcome = state === 'completed' ? 'duplicate' : 'in_progress';
      w.done(outcome);
      for (const f of followers.get(w.entry.claimKey)!) f.done(outcome);
    }
    if (fresh.length > 0) {
      let ends: JournalPosition[];
      try {
        ends = this.appender.append(fresh.map((w) => encodeDeliveryFrame(w.entry)));
      } catch (error) {
        for (const w of fresh) {
          w.fail(error);
          for (const f of followers.get(w.entry.claimKey) ?? []) f.fail(error);
        }
        return;
      }
      fresh.forEach((w, i) => {
        const journaled: Journaled = { key: w.entry.claimKey, end: ends[i], deliveryId: w.entry.delivery.id };
        this.pending.set(journaled.key, journaled);
        this.order.push(journaled);
        w.done('accepted');
        for (const f of followers.get(w.entry.claimKey) ?? []) f.done('duplicate');
      });
      this.onAppended?.();
    }
    if (this.waiting.length > 0 && this.pending.size < this.maxBacklog) this.schedule();
  }

  /** Deliveries that waited for room longer than backlogWaitMs are refused; a timer checks again. */
  private refuseLongWaits(): void {
    if (this.waiting.length === 0) return;
    const now = Date.now();
    const kept: Waiting[] = [];
    for (const w of this.waiting) {
      if (now - w.since < this.backlogWaitMs) kept.push(w);
      else w.fail(new SyncBridgeError('transient', `The webhook intake is ${this.pending.size} deliveries behind; send the delivery again shortly.`, { forCaller: true }));
    }
    this.waiting = kept;
    if (kept.length > 0 && this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, Math.min(1000, this.backlogWaitMs));
      this.timer.unref();
    }
  }

  /** The keys journaled after the drain's checkpoint: a restart keeps them duplicates. */
  private restorePending(): void {
    const reader = new JournalReader(this.appender.dir);
    try {
      let position = readCheckpoint(this.appender.dir);
      for (;;) {
        const { frames, next } = reader.read(position, 4096);
        for (const frame of frames) {
          const content = decodeJournalFrame(frame.payload);
          if (content?.kind !== 'delivery') continue;
          const journaled: Journaled = { key: content.entry.claimKey, end: frame.end, deliveryId: content.entry.delivery.id };
          this.pending.set(journaled.key, journaled);
          this.order.push(journaled);
        }
        if (frames.length === 0 && comparePositions(next, position) === 0) return;
        position = next;
      }
    } finally {
      reader.close();
    }
  }
}

/**
 * A journal frame that counts refused deliveries of a connection in webhook health (not a
 * delivery). `id`, unique per frame, lets the drain count a frame once however often it reads it
 * (countedOnce); frames journaled before ids have none.
 */
export interface RejectionsFrame {
  rejections: { connectionId: string; count: number; at: string; detail: string; id?: string };
}

function withFrameId(rejections: RejectionsFrame['rejections']): RejectionsFrame['rejections'] {
  return { ...rejections, id: randomBytes(12).toString('base64url') };
}

/** The claim that marks a count frame counted (SqliteIdempotencyStore, the dedupe window's TTL). */
export function rejectionsClaimKey(frameId: string): string {
  return `webhook-rejections:${frameId}`;
}

/**
 * The counts of refused deliveries to write to health, summed per connection (the latest time and
 * detail kept), leaving out frames counted before: those whose claim `claim` finds taken. The
 * drain reads again, after a crash, what it stored since its checkpoint file was last written;
 * claimed in the same commit as the counts, a frame read again counts nothing. `claim` takes the
 * ids of frames that carry one and says which were free.
 */
export function countedOnce(counts: ReadonlyArray<RejectionsFrame['rejections']>, claim: (frameIds: string[]) => boolean[]): Array<RejectionsFrame['rejections']> {
  const withId = counts.filter((c) => c.id !== undefined);
  const free = new Set<string>();
  if (withId.length > 0) claim(withId.map((c) => c.id!)).forEach((taken, i) => taken && free.add(withId[i].id!));
  const byConnection = new Map<string, RejectionsFrame['rejections']>();
  for (const c of counts) {
    if (c.id !== undefined && !free.has(c.id)) continue;
    const seen = byConnection.get(c.connectionId);
    byConnection.set(c.connectionId, seen
      ? { connectionId: c.connectionId, count: seen.count + c.count, ...(seen.at > c.at ? { at: seen.at, detail: seen.detail } : { at: c.at, detail: c.detail }) }
      : { connectionId: c.connectionId, count: c.count, at: c.at, detail: c.detail });
  }
  return [...byConnection.values()];
}

/** A journal frame as read back: a delivery (its intake entry) or a count of refused deliveries. */
export type JournalFrameContent = { kind: 'delivery'; entry: IntakeEntry } | ({ kind: 'rejections' } & RejectionsFrame);

/** Marks a count frame. Not JSON, so a build that knows only delivery frames skips it as unreadable rather than stall on it. */
const REJECTIONS_MARK = 'R';

/**
 * Marks a delivery frame whose body follows its entry raw: `D`, the entry without its body as
 * JSON (which holds no raw line break), a line break, the body. Escaping a ~1 KB JSON body into
 * the entry's JSON, and reading it back, cost more than the rest of the frame (4.9 against 2.0 µs
 * to write, 2.9 against 2.5 to read, in a micro-loop). Frames written as the whole entry's JSON
 * (before this form) are still read; a build from before it cannot read this form, so drain the
 * journal before going back to one (docs/webhook-intake.md "Journal first").
 */
const DELIVERY_MARK = 'D';

export function encodeDeliveryFrame(entry: IntakeEntry): string {
  const { delivery } = entry;
  const head = JSON.stringify({ claimKey: entry.claimKey, delivery: { ...delivery, body: undefined }, message: entry.message });
  return `${DELIVERY_MARK}${head}\n${delivery.body}`;
}

export function encodeRejectionsFrame(rejections: RejectionsFrame['rejections']): string {
  return `${REJECTIONS_MARK}${JSON.stringify(rejections)}`;
}

/** What a frame holds, or undefined for one that is neither a delivery nor a count (logged and skipped by the drain). */
export function decodeJournalFrame(payload: string): JournalFrameContent | undefined {
  try {
    if (payload.startsWith(REJECTIONS_MARK)) {
      const r = JSON.parse(payload.slice(REJECTIONS_MARK.length)) as Partial<RejectionsFrame['rejections']> | null;
      if (typeof r?.connectionId !== 'string' || !Number.isInteger(r.count) || typeof r.at !== 'string' || typeof r.detail !== 'string') return undefined;
      return { kind: 'rejections', rejections: { connectionId: r.connectionId, count: r.count!, at: r.at, detail: r.detail, ...(typeof r.id === 'string' ? { id: r.id } : {}) } };
    }
    let entry: Partial<IntakeEntry> | null;
    if (payload.startsWith(DELIVERY_MARK)) {
      const split = payload.indexOf('\n');
      if (split < 0) return undefined;
      entry = JSON.parse(payload.slice(DELIVERY_MARK.length, split)) as Partial<IntakeEntry> | null;
      if (typeof entry?.delivery === 'object' && entry.delivery !== null) entry.delivery.body = payload.slice(split + 1);
    } else entry = JSON.parse(payload) as Partial<IntakeEntry> | null;
    if (typeof entry?.claimKey !== 'string' || typeof entry.delivery !== 'object' || entry.delivery === null || typeof entry.message !== 'object' || entry.message === null) return undefined;
    return { kind: 'delivery', entry: entry as IntakeEntry };
  } catch {
    return undefined;
  }
}
