import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  JOURNAL_START,
  JournalAppender,
  JournalReader,
  readCheckpoint,
  type JournalFrame,
  type JournalPosition,
} from '../../../shared/platform/local/webhookJournal';

/**
 * The local webhook journal's file format and its two ends (shared/platform/local/webhookJournal.ts):
 * real segment files in a temp folder. Damage (a torn write, corrupt bytes, a frame written in two
 * parts by another thread) is made by writing bytes to the segment files directly.
 */
describe('webhook journal', () => {
  let dir: string;
  const open = new Set<{ close(): void }>();
  /** Closes one end now (a close twice could close a file descriptor since reused by another end). */
  const shut = (o: { close(): void }) => {
    open.delete(o);
    o.close();
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncbridge-journal-'));
  });
  afterEach(() => {
    for (const o of open) o.close();
    open.clear();
    rmSync(dir, { recursive: true, force: true });
  });

  function appender(options: { segmentBytes?: number } = {}): JournalAppender {
    const a = new JournalAppender(dir, options);
    open.add(a);
    return a;
  }
  function reader(): JournalReader {
    const r = new JournalReader(dir);
    open.add(r);
    return r;
  }
  const segmentPath = (segment: number) => join(dir, `${String(segment).padStart(10, '0')}.journal`);
  const segmentFiles = () => readdirSync(dir).filter((name) => name.endsWith('.journal')).sort();
  const payloads = (frames: JournalFrame[]) => frames.map((f) => f.payload);

  /** A frame's bytes as the appender writes them: u32 length, u32 CRC-32, payload (little-endian). */
  function frameBytes(payload: string): Buffer {
    const body = Buffer.from(payload, 'utf8');
    const header = Buffer.alloc(8);
    header.writeUInt32LE(body.length, 0);
    header.writeUInt32LE(crc32(body), 4);
    return Buffer.concat([header, body]);
  }

  /** Reads on from `from` until nothing more comes (what the drain does), collecting every frame. */
  function readAll(r: JournalReader, from: JournalPosition, maxFrames = 1000): { frames: JournalFrame[]; next: JournalPosition; skippedBytes: number } {
    const frames: JournalFrame[] = [];
    let position = from;
    let skippedBytes = 0;
    for (;;) {
      const got = r.read(position, maxFrames);
      frames.push(...got.frames);
      skippedBytes += got.skippedBytes;
      if (got.frames.length === 0 && got.next.segment === position.segment && got.next.offset === position.offset) return { frames, next: position, skippedBytes };
      position = got.next;
    }
  }

  it('reads back what was appended, in order, with each frame\'s end position in bytes', () => {
    const a = appender();
    expect(a.position).toEqual(JOURNAL_START);
    const first = a.append(['{"n":1}', 'żółw ✓']);
    const second = a.append(['{"n":3}']);
    expect(a.append([])).toEqual([]);
    // Ends are byte offsets: an 8-byte header, then the UTF-8 payload.
    const ends = [8 + 7, 8 + 7 + 8 + Buffer.byteLength('żółw ✓'), 8 + 7 + 8 + Buffer.byteLength('żółw ✓') + 8 + 7];
    expect([...first, ...second]).toEqual(ends.map((offset) => ({ segment: 1, offset })));
    expect(a.position).toEqual({ segment: 1, offset: ends[2] });
    expect(statSync(segmentPath(1)).size).toBe(ends[2]);

    const r = reader();
    const all = r.read(JOURNAL_START, 10);
    expect(all).toEqual({
      frames: [
        { payload: '{"n":1}', end: first[0] },
        { payload: 'żółw ✓', end: first[1] },
        { payload: '{"n":3}', end: second[0] },
      ],
      next: second[0],
      skippedBytes: 0,
    });
    // A limit stops early, and reading on from `next` continues where it stopped.
    const one = r.read(JOURNAL_START, 1);
    expect(payloads(one.frames)).toEqual(['{"n":1}']);
    expect(one.next).toEqual(first[0]);
    expect(payloads(r.read(one.next, 10).frames)).toEqual(['żółw ✓', '{"n":3}']);
    // At the end: nothing, and `next` stays put.
    expect(r.read(second[0], 10)).toEqual({ frames: [], next: second[0], skippedBytes: 0 });
  });

  it.each([
    ['part of a payload', (bytes: Buffer) => bytes.subarray(0, 8 + 10)],
    ['part of a header', (bytes: Buffer) => bytes.subarray(0, 5)],
    ['a whole frame whose checksum is wrong', (bytes: Buffer) => Buffer.concat([bytes.subarray(0, 4), Buffer.from([0, 0, 0, 0]), bytes.subarray(8)])],
  ])('cuts a torn last frame (%s) when the journal is opened again, and appends after it', (_what, tear) => {
    const a = appender();
    const ends = a.append(['one', 'two']);
    shut(a);
    const torn = tear(frameBytes(JSON.stringify({ claimKey: 'k', body: 'x'.repeat(40) })));
    appendFileSync(segmentPath(1), torn); // the crash's half-written frame

    const reopened = appender();
    expect(reopened.truncatedBytes).toBe(torn.length);
    expect(reopened.truncatedBytes).toBeGreaterThan(0);
    expect(statSync(segmentPath(1)).size).toBe(ends[1].offset);
    expect(reopened.position).toEqual(ends[1]);
    const [three] = reopened.append(['three']);
    expect(three).toEqual({ segment: 1, offset: ends[1].offset + 8 + 5 });

    const read = readAll(reader(), JOURNAL_START);
    expect(payloads(read.frames)).toEqual(['one', 'two', 'three']);
    expect(read.skippedBytes).toBe(0);
    expect(read.next).toEqual(three);
    // A journal with nothing torn is left as it is.
    shut(reopened);
    expect(appender().truncatedBytes).toBe(0);
  });

  it('starts a new segment once one is full, and the reader crosses into it', () => {
    const a = appender({ segmentBytes: 64 });
    const r = reader();
    const written: string[] = [];
    const ends: JournalPosition[] = [];
    for (let i = 0; i < 12; i += 1) {
      const batch = [`frame-${i}-a`, `frame-${i}-b`].slice(0, 1 + (i % 2));
      written.push(...batch);
      ends.push(...a.append(batch));
    }
    // One append always goes whole to one segment; a full segment is left before the next append.
    expect(segmentFiles().length).toBeGreaterThan(3);
    expect(new Set(ends.map((e) => e.segment)).size).toBe(segmentFiles().length);
    for (const [i, end] of ends.entries()) if (i > 0 && end.segment !== ends[i - 1].segment) expect(end.segment).toBe(ends[i - 1].segment + 1);

    // In small reads (the drain's batches), and in one.
    const small = readAll(r, JOURNAL_START, 2);
    expect(payloads(small.frames)).toEqual(written);
    expect(small.frames.map((f) => f.end)).toEqual(ends);
    expect(small.next).toEqual(ends.at(-1));
    expect(small.skippedBytes).toBe(0);
    expect(payloads(reader().read(JOURNAL_START, 1000).frames)).toEqual(written);
  });

  it('reads frames appended to a segment after the reader reached its end, when the next segment has been started since', () => {
    const a = appender({ segmentBytes: 100 });
    const r = reader();
    a.append(['early']);
    const first = r.read(JOURNAL_START, 10);
    expect(payloads(first.frames)).toEqual(['early']);
    // The reader stands at the end of segment 1; the appender fills it and moves on to segment 2.
    a.append(['late-' + 'x'.repeat(90)]);
    const [next] = a.append(['next-segment']);
    expect(next.segment).toBe(2);
    const rest = r.read(first.next, 10);
    expect(payloads(rest.frames)).toEqual(['late-' + 'x'.repeat(90), 'next-segment']);
    expect(rest.skippedBytes).toBe(0);
    expect(rest.next).toEqual(next);
  });

  it('reads frames that land in a segment while the reader is looking at it, just before the appender starts the next one', () => {
    // The appender is on another thread: between the reader finding the end of segment 1 and
    // finding segment 2, the appender writes its last frame to segment 1 and rotates.
    const a = appender({ segmentBytes: 100 });
    a.append(['early']);
    const late = 'late-' + 'x'.repeat(90);
    let interleaved = false;
    class RacedReader extends JournalReader {
      override readSegment(from: JournalPosition, maxFrames: number) {
        const got = super.readSegment(from, maxFrames);
        if (!interleaved && from.segment === 1) {
          interleaved = true;
          a.append([late]);
          a.append(['next-segment']);
        }
        return got;
      }
    }
    const r = new RacedReader(dir);
    open.add(r);
    const got = r.read(JOURNAL_START, 10);
    expect(interleaved).toBe(true);
    expect(payloads(got.frames)).toEqual(['early', late, 'next-segment']);
    expect(got.skippedBytes).toBe(0);
  });

  it('saves the checkpoint, deletes the segments wholly before it, and a reader and an appender go on from there', () => {
    const a = appender({ segmentBytes: 32 });
    const p = (letter: string) => `${letter}-${'0'.repeat(28)}`; // a frame of 38 bytes: one per segment
    const ends = ['a', 'b', 'c', 'd'].map((letter) => a.append([p(letter)])[0]);
    expect(ends.map((e) => e.segment)).toEqual([1, 2, 3, 4]);
    expect(readCheckpoint(dir)).toEqual(JOURNAL_START);

    const r = reader();
    // The reader holds segment 1 open when its checkpoint deletes it.
    expect(payloads(r.read(JOURNAL_START, 1).frames)).toEqual([p('a')]);
    r.saveCheckpoint(ends[0]);
    expect(readCheckpoint(dir)).toEqual(ends[0]);
    expect(segmentFiles()).toHaveLength(4); // segment 1 is not wholly drained: its checkpoint is in it

    r.saveCheckpoint({ segment: 3, offset: 0 });
    expect(readCheckpoint(dir)).toEqual({ segment: 3, offset: 0 });
    expect(existsSync(segmentPath(1))).toBe(false);
    expect(existsSync(segmentPath(2))).toBe(false);
    expect(segmentFiles()).toEqual(['0000000003.journal', '0000000004.journal']);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);

    r.saveCheckpoint(ends[2]);
    expect(payloads(readAll(r, readCheckpoint(dir)).frames)).toEqual([p('d')]);
    shut(a);
    // A restart appends after the last segment, and a fresh reader starts at the checkpoint.
    const again = appender({ segmentBytes: 32 });
    expect(again.truncatedBytes).toBe(0);
    const [e] = again.append([p('e')]);
    expect(e.segment).toBe(5);
    expect(payloads(readAll(reader(), readCheckpoint(dir)).frames)).toEqual([p('d'), p('e')]);
  });

  it('throws when it cannot start the next segment, and starts it on a later append once it can', () => {
    const a = appender({ segmentBytes: 1 });
    const [first] = a.append(['first']);
    mkdirSync(segmentPath(2)); // the next segment's name taken: opening it fails (EISDIR)
    expect(() => a.append(['refused'])).toThrow(/EISDIR/);
    expect(() => a.append(['refused again'])).toThrow(/EISDIR/);
    expect(a.position).toEqual(first);
    // Meanwhile the drain opens segment 1 (and gets whatever file descriptor is free).
    const r = reader();
    expect(payloads(r.readSegment(JOURNAL_START, 10).frames)).toEqual(['first']);
    rmdirSync(segmentPath(2));
    const [second] = a.append(['second']);
    expect(second).toEqual({ segment: 2, offset: 8 + 6 });
    expect(segmentFiles()).toEqual(['0000000001.journal', '0000000002.journal']);
    // The reader's file is still its own.
    const read = readAll(r, JOURNAL_START);
    expect(payloads(read.frames)).toEqual(['first', 'second']);
    expect(read.skippedBytes).toBe(0);
    shut(a);
  });

  it('closes once: a second close leaves alone a file that reused its descriptor', () => {
    const a = appender();
    a.append(['kept']);
    a.close();
    const r = reader();
    expect(payloads(r.readSegment(JOURNAL_START, 10).frames)).toEqual(['kept']); // r holds a descriptor now, likely a's old number
    a.close();
    appendFileSync(segmentPath(1), frameBytes('more'));
    expect(payloads(r.readSegment(JOURNAL_START, 10).frames)).toEqual(['kept', 'more']);
  });

  it('without a checkpoint, starts at the first segment there is', () => {
    const a = appender({ segmentBytes: 16 });
    a.append(['first-segment']);
    a.append(['second-segment']);
    rmSync(segmentPath(1));
    expect(readCheckpoint(dir)).toEqual({ segment: 2, offset: 0 });
    expect(readCheckpoint(mkdtempSync(join(dir, 'empty-')))).toEqual(JOURNAL_START);
  });

  it.each([
    ['a frame whose checksum is wrong', () => Buffer.concat([frameBytes('corrupt').subarray(0, 4), Buffer.from([1, 2, 3, 4]), Buffer.from('corrupt')])],
    ['a length no delivery has', () => Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 3])],
    ['a frame cut short', () => frameBytes('x'.repeat(100)).subarray(0, 50)],
  ])('skips corrupt bytes at the end of a finished segment (%s) and reads on in the next one', (_what, garbage) => {
    const a = appender({ segmentBytes: 16 });
    const [before] = a.append(['before-the-damage']);
    const bad = garbage();
    appendFileSync(segmentPath(1), bad); // segment 1 is full: the appender writes no more to it
    const [after] = a.append(['after-the-damage']);
    expect(after.segment).toBe(2);

    const r = reader();
    const got = r.read(JOURNAL_START, 10);
    expect(payloads(got.frames)).toEqual(['before-the-damage', 'after-the-damage']);
    expect(got.skippedBytes).toBe(bad.length);
    expect(got.next).toEqual(after);
    // From just after the last good frame, too (where a drain's checkpoint would be).
    const fromCheckpoint = r.read(before, 10);
    expect(payloads(fromCheckpoint.frames)).toEqual(['after-the-damage']);
    expect(fromCheckpoint.skippedBytes).toBe(bad.length);
  });

  it('reads frames larger than its 256 KB read chunk', () => {
    const a = appender();
    const big = 'b'.repeat(300 * 1024);
    const huge = JSON.stringify({ body: 'h'.repeat(1024 * 1024 + 17) });
    const written = ['small', big, 'between', huge, 'last'];
    a.append(written.slice(0, 2));
    a.append(written.slice(2));
    const r = reader();
    expect(payloads(r.read(JOURNAL_START, 10).frames)).toEqual(written);
    // Starting right at a big frame, one frame at a time.
    const one = r.read(JOURNAL_START, 1);
    const second = r.read(one.next, 1);
    expect(second.frames[0].payload).toBe(big);
    expect(payloads(readAll(r, second.next, 1).frames)).toEqual(['between', huge, 'last']);
  });

  it.each([
    ['a small frame, header first', 'later-frame', 3],
    ['a small frame, part of its payload', 'later-frame', 12],
    ['a frame larger than the read chunk', 'L'.repeat(400 * 1024), 300 * 1024],
  ])('stops at a frame not yet wholly written to the open segment and returns it once it is (%s)', (_what, payload, firstPart) => {
    const a = appender();
    const [done] = a.append(['whole']);
    shut(a);
    const bytes = frameBytes(payload);
    appendFileSync(segmentPath(1), bytes.subarray(0, firstPart)); // the appender's write, half-way

    const r = reader();
    const partial = r.read(JOURNAL_START, 10);
    expect(partial).toEqual({ frames: [{ payload: 'whole', end: done }], next: done, skippedBytes: 0 });
    expect(r.read(done, 10)).toEqual({ frames: [], next: done, skippedBytes: 0 });

    appendFileSync(segmentPath(1), bytes.subarray(firstPart));
    const rest = r.read(done, 10);
    expect(payloads(rest.frames)).toEqual([payload]);
    expect(rest.next).toEqual({ segment: 1, offset: done.offset + bytes.length });
    expect(rest.skippedBytes).toBe(0);
  });
});
