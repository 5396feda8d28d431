import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import Database from 'better-sqlite3';
import { SyncBridgeError } from '../../core/errors';

/**
 * The local platform's webhook journal: an append-only log of verified deliveries (and counts of
 * refused ones, for webhook health), in segment files of one folder, that the HTTP thread writes
 * and a drain reads (journalIntake.ts, journalDrain.ts; docs/webhook-intake.md "Journal first").
 *
 * A frame is `u32 length, u32 CRC-32 of the payload, payload` (little-endian; the payload is UTF-8
 * text, its content journalIntake.ts's to encode and decode). An append is one `write()` of whole frames to the open segment: on return
 * the frames are in the operating system's page cache, so they survive the process being killed
 * (not the machine losing power: the same promise as the SQLite file's WAL at synchronous=NORMAL,
 * database.ts). Opening the journal for appending cuts a torn last frame (a write cut short by a
 * crash); readers stop at an incomplete frame and come back for it.
 *
 * The drain's progress is a checkpoint file (`drained`, replaced atomically); segments wholly
 * before it are deleted. Everything after it is read again at start: the drain's writes are
 * idempotent (claims, deterministic delivery and message ids), so reading twice is harmless.
 */

/** A place in the journal: a segment and a byte offset in it. */
export interface JournalPosition {
  segment: number;
  offset: number;
}

export interface JournalFrame {
  payload: string;
  /** Where the next frame starts: the drain's checkpoint once this one is stored. */
  end: JournalPosition;
}

export const JOURNAL_START: JournalPosition = { segment: 1, offset: 0 };

const HEADER_BYTES = 8;
/** A frame longer than this is a corrupt length, not a delivery (bodies are limited to a few MB). */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
const CHECKPOINT = 'drained';

export function comparePositions(a: JournalPosition, b: JournalPosition): number {
  return a.segment !== b.segment ? a.segment - b.segment : a.offset - b.offset;
}

function segmentName(segment: number): string {
  return `${String(segment).padStart(10, '0')}.journal`;
}

/** The segment numbers present in the folder, ascending. */
function segmentsIn(dir: string): number[] {
  return readdirSync(dir)
    .map((name) => /^(\d{10})\.journal$/.exec(name))
    .flatMap((match) => (match ? [Number(match[1])] : []))
    .sort((a, b) => a - b);
}

/** The drain's checkpoint, or the journal's start when nothing was drained yet. */
export function readCheckpoint(dir: string): JournalPosition {
  const path = join(dir, CHECKPOINT);
  if (!existsSync(path)) return { ...JOURNAL_START, segment: segmentsIn(dir)[0] ?? JOURNAL_START.segment };
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as JournalPosition;
  if (!Number.isInteger(parsed.segment) || !Number.isInteger(parsed.offset)) throw new Error(`The webhook journal checkpoint in ${dir} is unreadable.`);
  return parsed;
}

/**
 * Parses whole, valid frames from `buffer` (read at `offset` of `segment`). Stops at the first
 * incomplete or invalid frame; `valid` says whether it stopped at the end of what was read
 * (true) or at a frame whose length or checksum is wrong (false).
 */
function parseFrames(buffer: Buffer, segment: number, offset: number, maxFrames: number): { frames: JournalFrame[]; consumed: number; invalid: boolean } {
  const frames: JournalFrame[] = [];
  let at = 0;
  while (frames.length < maxFrames && buffer.length - at >= HEADER_BYTES) {
    const length = buffer.readUInt32LE(at);
    if (length > MAX_FRAME_BYTES) return { frames, consumed: at, invalid: true };
    if (buffer.length - at - HEADER_BYTES < length) break;
    const payload = buffer.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length);
    if (crc32(payload) !== buffer.readUInt32LE(at + 4)) return { frames, consumed: at, invalid: true };
    at += HEADER_BYTES + length;
    frames.push({ payload: payload.toString('utf8'), end: { segment, offset: offset + at } });
  }
  return { frames, consumed: at, invalid: false };
}

const LOCK = 'appender.lock.db';

/**
 * One appender per journal folder, machine-wide: a second one (another process on the same data
 * folder, or a second platform in this one) would write into a segment the first has left, where
 * the drain no longer reads, and the deliveries it accepted would be lost. The lock is SQLite's
 * own exclusive lock on a small file in the folder, held open for as long as the appender lives:
 * the operating system drops it when the process ends however it ends (a crash, kill -9, a
 * container restarted with the same pid), and SQLite sees it from other processes and from other
 * handles of this one (threads included).
 */
function takeAppenderLock(dir: string): Database.Database {
  const lock = new Database(join(dir, LOCK), { timeout: 0 });
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE');
    return lock;
  } catch (error) {
    lock.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') {
      throw new SyncBridgeError('configuration', `Another SyncBridge host takes webhooks into the journal in ${dir} (it holds ${LOCK}); one host per data folder receives webhooks journal first (SYNCBRIDGE_LOCAL_APPLIER_THREAD=0 on the others).`);
    }
    throw error;
  }
}

function releaseAppenderLock(lock: Database.Database): void {
  try {
    if (lock.inTransaction) lock.exec('ROLLBACK');
  } finally {
    lock.close();
  }
}

export interface JournalAppenderOptions {
  /** A new segment is started once the current one reaches this many bytes. Default 64 MiB. */
  segmentBytes?: number;
}

/** The writing end (one per journal folder, on the thread that receives). */
export class JournalAppender {
  private fd = -1;
  private readonly lock: Database.Database;
  private segment = 0;
  private size = 0;
  private readonly segmentBytes: number;
  private closed = false;
  /** Bytes of a torn last frame cut at open (a crash during a write), for the host's log. */
  truncatedBytes = 0;

  constructor(readonly dir: string, options: JournalAppenderOptions = {}) {
    this.segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    mkdirSync(dir, { recursive: true });
    this.lock = takeAppenderLock(dir);
    try {
      this.openLastSegment();
    } catch (error) {
      if (this.fd >= 0) closeSync(this.fd);
      releaseAppenderLock(this.lock);
      throw error;
    }
  }

  private openLastSegment(): void {
    const dir = this.dir;
    const segments = segmentsIn(dir);
    this.segment = segments.at(-1) ?? readCheckpoint(dir).segment;
    this.fd = openSync(join(dir, segmentName(this.segment)), 'a+');
    this.size = fstatSync(this.fd).size;
    const validEnd = this.validEndOfSegment();
    this.truncatedBytes = this.size - validEnd;
    if (validEnd < this.size) {
      ftruncateSync(this.fd, validEnd);
      this.size = validEnd;
    }
  }

  /** Where the next append starts. */
  get position(): JournalPosition {
    return { segment: this.segment, offset: this.size };
  }

  /**
   * Appends the payloads as frames with one write; returns each frame's end position. Throws when
   * the write fails (a full disk), having cut whatever part of it landed, so the journal stays a
   * sequence of whole frames.
   */
  append(payloads: readonly string[]): JournalPosition[] {
    if (payloads.length === 0) return [];
    if (this.size >= this.segmentBytes) this.rotate();
    // The frames are encoded straight into the one buffer that is written (no buffer per payload
    // and no concatenation of them): the same bytes, 0.85 against 1.25 µs a ~1.7 KB delivery frame
    // in a micro-loop, and one copy of each frame's bytes instead of two.
    const lengths = payloads.map((text) => Buffer.byteLength(text, 'utf8'));
    const bytes = Buffer.allocUnsafe(lengths.reduce((sum, length) => sum + HEADER_BYTES + length, 0));
    const ends: JournalPosition[] = [];
    let at = 0;
    payloads.forEach((text, i) => {
      const start = at + HEADER_BYTES;
      const end = start + lengths[i];
      // Node writes exactly byteLength's count (a lone surrogate as U+FFFD both times); were it to
      // write fewer, the frame would carry uninitialised bytes under a valid CRC.
      if (bytes.write(text, start, lengths[i], 'utf8') !== lengths[i]) throw new Error('A journal frame did not encode to its measured length; nothing was appended.');
      bytes.writeUInt32LE(lengths[i], at);
      bytes.writeUInt32LE(crc32(bytes.subarray(start, end)), at + 4);
      at = end;
      ends.push({ segment: this.segment, offset: this.size + end });
    });
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written, this.size + written);
    } catch (error) {
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        // The next open cuts the torn frame instead.
      }
      throw error;
    }
    this.size += bytes.length;
    return ends;
  }

  /** Closes the open segment (once: a second close could close a file that reused its descriptor). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } finally {
      releaseAppenderLock(this.lock);
    }
  }

  private rotate(): void {
    // The next segment opened before this one is closed: when the open fails, the appender stays
    // on this segment and tries again at the next append (closing first left a closed descriptor
    // whose number the next open elsewhere reuses, and the retry closed that file).
    const fd = openSync(join(this.dir, segmentName(this.segment + 1)), 'a+');
    closeSync(this.fd);
    this.fd = fd;
    this.segment += 1;
    this.size = fstatSync(this.fd).size;
  }

  /** The end of the last whole, valid frame of the open segment. */
  private validEndOfSegment(): number {
    const reader = new JournalReader(this.dir);
    try {
      let position: JournalPosition = { segment: this.segment, offset: 0 };
      for (;;) {
        const { frames, stopped } = reader.readSegment(position, 4096);
        if (frames.length > 0) position = frames[frames.length - 1].end;
        if (frames.length === 0 || stopped !== 'limit') return position.offset;
      }
    } finally {
      reader.close();
    }
  }
}

/** The reading end: the drain's, and the receiving thread's once at start (journalIntake.ts). */
export class JournalReader {
  private fd: number | undefined;
  private fdSegment = 0;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /**
   * Up to `maxFrames` whole frames from `from` on, crossing into the next segment once this one is
   * finished (a later one exists, so nothing more is appended to this one). Stops at a frame not
   * yet wholly written. `next` is where to read on from (past a finished segment even when no
   * frame was left in it). Invalid bytes at the end of a finished segment (disk corruption: the
   * appender cuts a torn frame when it opens) are skipped and counted in `skippedBytes`.
   */
  read(from: JournalPosition, maxFrames: number): { frames: JournalFrame[]; next: JournalPosition; skippedBytes: number } {
    const frames: JournalFrame[] = [];
    let position = from;
    let skippedBytes = 0;
    const take = (got: { frames: JournalFrame[] }) => {
      frames.push(...got.frames);
      if (got.frames.length > 0) position = got.frames[got.frames.length - 1].end;
    };
    while (frames.length < maxFrames) {
      const got = this.readSegment(position, maxFrames - frames.length);
      take(got);
      if (got.stopped === 'limit') continue;
      const next = this.nextSegmentAfter(position.segment);
      if (next === undefined) break;
      // Read this segment once more: the appender may have written its last frames to it just
      // before it started the next one.
      const again = this.readSegment(position, maxFrames - frames.length);
      take(again);
      if (again.stopped === 'limit') continue;
      skippedBytes += Math.max(0, this.segmentSize(position.segment) - position.offset);
      position = { segment: next, offset: 0 };
    }
    return { frames, next: position, skippedBytes };
  }

  /** Frames of one segment from `from`; `stopped` says why it stopped. */
  readSegment(from: JournalPosition, maxFrames: number): { frames: JournalFrame[]; stopped: 'limit' | 'end' | 'invalid' } {
    const fd = this.open(from.segment);
    if (fd === undefined) return { frames: [], stopped: 'end' };
    const frames: JournalFrame[] = [];
    let offset = from.offset;
    let chunk = 256 * 1024;
    while (frames.length < maxFrames) {
      const buffer = Buffer.allocUnsafe(chunk);
      const read = readSync(fd, buffer, 0, chunk, offset);
      if (read < HEADER_BYTES) return { frames, stopped: 'end' };
      const parsed = parseFrames(buffer.subarray(0, read), from.segment, offset, maxFrames - frames.length);
      frames.push(...parsed.frames);
      offset += parsed.consumed;
      if (parsed.invalid) return { frames, stopped: 'invalid' };
      if (parsed.frames.length === 0) {
        // One frame larger than the chunk: read it whole, or it is not all there yet.
        const length = buffer.readUInt32LE(0);
        if (read < chunk) return { frames, stopped: 'end' };
        chunk = HEADER_BYTES + length;
      }
    }
    return { frames, stopped: 'limit' };
  }

  /** Saves the drain's progress (atomically) and deletes the segments wholly before it. */
  saveCheckpoint(position: JournalPosition): void {
    const path = join(this.dir, CHECKPOINT);
    writeFileSync(`${path}.tmp`, JSON.stringify(position));
    renameSync(`${path}.tmp`, path);
    for (const segment of segmentsIn(this.dir)) {
      if (segment >= position.segment) break;
      if (this.fd !== undefined && this.fdSegment === segment) this.closeFd();
      unlinkSync(join(this.dir, segmentName(segment)));
    }
  }

  close(): void {
    this.closeFd();
  }

  private nextSegmentAfter(segment: number): number | undefined {
    return segmentsIn(this.dir).find((s) => s > segment);
  }

  private segmentSize(segment: number): number {
    const fd = this.open(segment);
    return fd === undefined ? 0 : fstatSync(fd).size;
  }

  private open(segment: number): number | undefined {
    if (this.fd !== undefined && this.fdSegment === segment) return this.fd;
    this.closeFd();
    const path = join(this.dir, segmentName(segment));
    if (!existsSync(path)) return undefined;
    this.fd = openSync(path, 'r');
    this.fdSegment = segment;
    return this.fd;
  }

  private closeFd(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
