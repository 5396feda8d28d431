import { SyncBridgeError } from '../shared/core/errors';
import { MAX_RECORD_INDEX, SandboxEntity, parseRecordId, recordId } from './entities';
import { ListingKey, compareKeys } from './listingKey';
import { SeededRandom } from './random';
import { ENTITY_SPECS, buildRecord } from './records/buildRecord';
import { GenerationContext, SandboxRecord } from './records/recordTypes';
import { RecordChangeKind, RecordChangeListener, Tombstone } from './recordChanges';
import { formatSecond, seededUpdatedSecond } from './timeline';

export type { Tombstone } from './recordChanges';

export interface ListQuery {
  /** Inclusive lower bound on the updated_at second; when set, tombstones are served too. */
  sinceSecond?: number;
  /** Exclusive: serve only what sorts after this key (decoded from a cursor). */
  after?: ListingKey;
  limit: number;
}

export interface ListPage {
  items: Array<SandboxRecord | Tombstone>;
  /** Key of the last item when more items follow, else undefined. */
  nextKey?: ListingKey;
  /** Items in the whole listing for this query's `sinceSecond`, regardless of the cursor. */
  total: number;
}

/** A record that a mutation touched: its latest version, or null once deleted (a tombstone). */
interface OverlayEntry {
  index: number;
  second: number;
  record: SandboxRecord | null;
  /** Bumped by every change; a seeded record that was never changed is version 1. */
  version: number;
}

/** The version of a seeded record nobody has changed yet. */
const SEEDED_VERSION = 1;

/** Fields a caller may not set: the sandbox owns identity and time. */
const RESERVED_FIELDS = ['id', 'created_at', 'updated_at'];

/**
 * The records of one entity. Seeded records are never stored: record i is rebuilt from
 * (seed, entity, i) whenever it is served, and the seeded sequence is sorted by (updated_at, id)
 * by construction, so a page is found by binary search. Only records that mutations touched live
 * in memory (the overlay), both in a map by index and in an array sorted by listing key; an
 * overlay entry shadows the seeded record with the same index.
 */
export class EntityStore {
  private readonly overlay = new Map<number, OverlayEntry>();
  private readonly ordered: OverlayEntry[] = [];
  private nextIndex: number;
  private shadowedSeeded = 0;
  private overlayLive = 0;

  constructor(
    readonly entity: SandboxEntity,
    private readonly context: GenerationContext,
    private readonly onChange?: RecordChangeListener,
  ) {
    this.nextIndex = context.seededCount;
  }

  get liveCount(): number {
    return this.context.seededCount - this.shadowedSeeded + this.overlayLive;
  }

  get(id: string): SandboxRecord | undefined {
    const index = parseRecordId(this.entity, id);
    if (index === undefined) return undefined;
    return this.recordAt(index);
  }

  /** The version of a live record (for ETag / If-Match), or undefined if it is not live. */
  version(id: string): number | undefined {
    const index = parseRecordId(this.entity, id);
    if (index === undefined || !this.recordAt(index)) return undefined;
    return this.overlay.get(index)?.version ?? SEEDED_VERSION;
  }

  list(query: ListQuery): ListPage {
    const includeDeleted = query.sinceSecond !== undefined;
    let start: ListingKey = { second: query.sinceSecond ?? -Infinity, index: -1 };
    // The key right after an exclusive cursor is (second, index + 1): no key lies in between.
    if (query.after && compareKeys({ second: query.after.second, index: query.after.index + 1 }, start) > 0) {
      start = { second: query.after.second, index: query.after.index + 1 };
    }
    const seededCount = this.context.seededCount;
    let seeded = this.seededLowerBound(start);
    let overlaid = lowerBound(this.ordered, start);
    const items: Array<SandboxRecord | Tombstone> = [];
    let lastKey: ListingKey | undefined;
    let more = false;
    for (;;) {
      while (seeded < seededCount && this.overlay.has(seeded)) seeded++;
      while (overlaid < this.ordered.length && !includeDeleted && this.ordered[overlaid].record === null) overlaid++;
      const seededKey = seeded < seededCount ? { second: seededUpdatedSecond(seeded), index: seeded } : undefined;
      const entry = overlaid < this.ordered.length ? this.ordered[overlaid] : undefined;
      if (!seededKey && !entry) break;
      if (items.length === query.limit) {
        more = true;
        break;
      }
      if (seededKey && (!entry || compareKeys(seededKey, entry) < 0)) {
        items.push(buildRecord(this.context, this.entity, seeded));
        lastKey = seededKey;
        seeded++;
      } else if (entry) {
        items.push(entry.record ?? this.tombstone(entry));
        lastKey = { second: entry.second, index: entry.index };
        overlaid++;
      }
    }
    return { items, nextKey: more ? lastKey : undefined, total: this.count(query.sinceSecond) };
  }

  /** Every live record in id order, built one at a time so that a dump never holds them all. */
  *liveRecords(): Generator<SandboxRecord> {
    for (let index = 0; index < this.nextIndex; index++) {
      const record = this.recordAt(index);
      if (record) yield record;
    }
  }

  /** Live records that mutations created or changed (the overlay), in listing order. */
  *changedLiveRecords(): Generator<SandboxRecord> {
    for (const entry of this.ordered) if (entry.record) yield entry.record;
  }

  /** Whether a seeded record is still as generated (never changed or deleted). */
  isUntouchedSeeded(index: number): boolean {
    return index >= 0 && index < this.context.seededCount && !this.overlay.has(index);
  }

  /** A new record: generated fields for its index, overridden by `fields`, stamped `second`. */
  create(fields: Record<string, unknown>, second: number): SandboxRecord {
    assertNoReservedFields(fields);
    if (this.nextIndex > MAX_RECORD_INDEX) throw new SyncBridgeError('conflict', `The ${this.entity} id space is full.`);
    const index = this.nextIndex++;
    const generated = buildRecord(this.context, this.entity, index, second);
    const record = withTimestampsLast({ ...generated, ...fields }, generated.created_at, generated.updated_at);
    this.put(index, second, record);
    return record;
  }

  /**
   * A new record holding exactly `fields` plus id and timestamps, as a provider stores what a
   * client POSTed; unlike `create`, nothing is generated, so reading it back echoes the write.
   */
  insert(fields: Record<string, unknown>, second: number): SandboxRecord {
    assertNoReservedFields(fields);
    if (this.nextIndex > MAX_RECORD_INDEX) throw new SyncBridgeError('conflict', `The ${this.entity} id space is full.`);
    const index = this.nextIndex++;
    const stamp = formatSecond(second);
    const record: SandboxRecord = { id: recordId(this.entity, index), ...structuredClone(fields), created_at: stamp, updated_at: stamp };
    this.put(index, second, record);
    return record;
  }

  /** Replaces every field of a live record with `fields` (id and created_at kept); undefined if it is not live. */
  replace(id: string, fields: Record<string, unknown>, second: number): SandboxRecord | undefined {
    assertNoReservedFields(fields);
    const index = parseRecordId(this.entity, id);
    const current = index === undefined ? undefined : this.recordAt(index);
    if (index === undefined || !current) return undefined;
    const record: SandboxRecord = { id: current.id, ...structuredClone(fields), created_at: current.created_at, updated_at: formatSecond(second) };
    this.put(index, second, record);
    return record;
  }

  /** Merges `fields` into a live record (shallowly) and stamps it; undefined if it is not live. */
  patch(id: string, fields: Record<string, unknown>, second: number): SandboxRecord | undefined {
    assertNoReservedFields(fields);
    const index = parseRecordId(this.entity, id);
    const current = index === undefined ? undefined : this.recordAt(index);
    if (index === undefined || !current) return undefined;
    const record = withTimestampsLast({ ...structuredClone(current), ...fields }, current.created_at, formatSecond(second));
    this.put(index, second, record);
    return record;
  }

  /** Changes a few fields of a live record the way a provider user would. */
  touch(index: number, random: SeededRandom, second: number): SandboxRecord | undefined {
    const current = this.recordAt(index);
    if (!current) return undefined;
    const record = structuredClone(current);
    ENTITY_SPECS[this.entity].update(record, random);
    record.updated_at = formatSecond(second);
    this.put(index, second, record);
    return record;
  }

  /** Deletes a live record, leaving a tombstone stamped `second`; false if it was not live. */
  delete(id: string, second: number): boolean {
    const index = parseRecordId(this.entity, id);
    if (index === undefined || !this.recordAt(index)) return false;
    this.put(index, second, null);
    return true;
  }

  /**
   * `count` distinct live indexes, chosen with `random` (so a seeded mutation stream picks the
   * same records every run). Fewer are returned only when fewer records are live.
   */
  pickLive(random: SeededRandom, count: number): number[] {
    const wanted = Math.min(count, this.liveCount);
    const chosen = new Set<number>();
    // Random probes are fast while most records are live; the scan guarantees termination when not.
    for (let attempt = 0; chosen.size < wanted && attempt < wanted * 20; attempt++) {
      const index = random.int(0, this.nextIndex - 1);
      if (this.recordAt(index)) chosen.add(index);
    }
    const scanFrom = this.nextIndex > 0 ? random.int(0, this.nextIndex - 1) : 0;
    for (let step = 0; chosen.size < wanted && step < this.nextIndex; step++) {
      const index = (scanFrom + step) % this.nextIndex;
      if (this.recordAt(index)) chosen.add(index);
    }
    return [...chosen];
  }

  private recordAt(index: number): SandboxRecord | undefined {
    const entry = this.overlay.get(index);
    if (entry) return entry.record ?? undefined;
    return index < this.context.seededCount ? buildRecord(this.context, this.entity, index) : undefined;
  }

  /** Stores a change (its version is assigned here) and tells the listener about it. */
  private put(index: number, second: number, record: SandboxRecord | null): void {
    const previous = this.overlay.get(index);
    const seeded = index < this.context.seededCount;
    const wasLive = previous ? previous.record !== null : seeded;
    const entry: OverlayEntry = { index, second, record, version: (previous?.version ?? (seeded ? SEEDED_VERSION : 0)) + 1 };
    if (previous) {
      this.ordered.splice(lowerBound(this.ordered, previous), 1);
      if (previous.record) this.overlayLive--;
    } else if (seeded) {
      this.shadowedSeeded++;
    }
    this.overlay.set(entry.index, entry);
    this.ordered.splice(lowerBound(this.ordered, entry), 0, entry);
    if (entry.record) this.overlayLive++;
    if (this.onChange) {
      const kind: RecordChangeKind = entry.record === null ? 'deleted' : wasLive ? 'updated' : 'created';
      this.onChange({ entity: this.entity, kind, id: recordId(this.entity, entry.index), second: entry.second, version: entry.version, record: entry.record ?? this.tombstone(entry) });
    }
  }

  private tombstone(entry: OverlayEntry): Tombstone {
    return { id: recordId(this.entity, entry.index), deleted: true, updated_at: formatSecond(entry.second) };
  }

  /** Records (and, with a since, tombstones) in the listing for `sinceSecond`. */
  private count(sinceSecond: number | undefined): number {
    if (sinceSecond === undefined) return this.liveCount;
    const firstSeeded = this.seededLowerBound({ second: sinceSecond, index: -1 });
    let shadowedFromSince = 0;
    for (const index of this.overlay.keys()) {
      if (index >= firstSeeded && index < this.context.seededCount) shadowedFromSince++;
    }
    const overlayFromSince = this.ordered.length - lowerBound(this.ordered, { second: sinceSecond, index: -1 });
    return this.context.seededCount - firstSeeded - shadowedFromSince + overlayFromSince;
  }

  /** The first seeded index whose key is >= `key`, in O(log n): seeded keys grow with the index. */
  private seededLowerBound(key: ListingKey): number {
    let low = 0;
    let high = this.context.seededCount;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (compareKeys({ second: seededUpdatedSecond(mid), index: mid }, key) < 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

function lowerBound(entries: readonly ListingKey[], key: ListingKey): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareKeys(entries[mid], key) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

function assertNoReservedFields(fields: Record<string, unknown>): void {
  for (const name of RESERVED_FIELDS) {
    if (name in fields) throw new SyncBridgeError('validation', `Field '${name}' is assigned by the sandbox and cannot be set.`);
  }
}

/** Keeps the served field order stable: id first, timestamps last, whatever was merged. */
function withTimestampsLast(record: Record<string, unknown>, createdAt: string, updatedAt: string): SandboxRecord {
  const { id, created_at: _created, updated_at: _updated, ...fields } = record;
  return { id: id as string, ...fields, created_at: createdAt, updated_at: updatedAt };
}
