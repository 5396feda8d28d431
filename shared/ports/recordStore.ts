import type { IsoTime, RecordScope, RecordState, SyncRecord } from '../core/model';

/** A record to write, optionally with the JSON text of its data already made by the caller. */
export interface RecordWrite extends SyncRecord {
  /** `JSON.stringify(data)` when the caller has it; stores may store it instead of serialising again. */
  dataJson?: string;
  /**
   * The write's precondition:
   * - a revision (from `getWithRevision` or `getStates`): compare-and-set, only if the stored record
   *   still has this revision;
   * - `null`: create-only, only if NO record is stored under this id. A tombstone is a stored
   *   record (it has a revision) and fails the condition like a live one: a caller that means to
   *   write over a tombstone reads it and names its revision. (It carries state worth keeping: a
   *   provider's delete, or a local delete waiting for its push; and on Cosmos DB a create meets
   *   the tombstone's document all the same.)
   * - absent (undefined): an unconditional upsert.
   * A precondition that does not hold fails the whole call with `conflict`, and nothing of it is
   * written: not the other conditional records, not the unconditional ones. Never stored: it is an
   * instruction to the store, not part of the record.
   */
  ifRevision?: string | null;
}

/**
 * The most records one conditional `write` call may hold (Cosmos DB's limit of operations per
 * transactional batch). A caller with more splits them into calls of at most this many, and of
 * at most MAX_CONDITIONAL_WRITE_BYTES.
 */
export const MAX_CONDITIONAL_WRITE = 100;

/**
 * The most bytes of records (recordWriteBytes) one conditional `write` call may hold. Cosmos DB
 * commits at most 2 MB in one transactional batch; this leaves room for what its documents and
 * operations add to each record (a hundred of them, with ids up to 1 KB).
 */
export const MAX_CONDITIONAL_WRITE_BYTES = 1_600_000;

/**
 * The largest record (recordWriteBytes) callers write: Cosmos DB stores at most 2 MB per
 * document, and a record that fits only the local store would fail once deployed.
 */
export const MAX_RECORD_BYTES = 1_900_000;

/** A record's size as the stores' limits count it: its JSON, as a store serialises it. */
export function recordWriteBytes(record: RecordWrite): number {
  // Measured on every record of every page (twice), so without serialising the whole record again:
  // the JSON of `data` (the caller's `dataJson` when it has it), of the fields that can be as large
  // (the two-way `base`, `fieldClock`, `pendingPush`), and an upper bound for the scalar fields.
  let bytes = record.dataJson !== undefined ? Buffer.byteLength(record.dataJson, 'utf8') : jsonBytes(record.data);
  if (record.base) bytes += jsonBytes(record.base);
  if (record.fieldClock) bytes += jsonBytes(record.fieldClock);
  if (record.pendingPush) bytes += jsonBytes(record.pendingPush);
  if (record.previousIds) bytes += jsonBytes(record.previousIds);
  for (const field of STRING_FIELDS) {
    const value = record[field];
    // name, quotes, colon, comma; a character takes at most 3 bytes in UTF-8, 6 when JSON escapes it (\u00xx)
    if (typeof value === 'string') bytes += field.length + 6 + value.length * 6;
  }
  return bytes + 256; // braces, numbers (version), booleans (deleted), nulls
}

/** The scalar string fields of a stored record (SyncRecord), counted by their length. */
const STRING_FIELDS = ['id', 'tenantId', 'connectionId', 'entity', 'externalId', 'hash', 'rawHash', 'deletedAt', 'firstSeenAt', 'lastModifiedAt', 'lastAction', 'sourceUpdatedAt', 'lastStepId', 'movedTo'] as const satisfies ReadonlyArray<keyof SyncRecord>;

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');
}

/** A record as stored, with the revision a compare-and-set write names (`RecordWrite.ifRevision`). */
export interface RevisedRecord {
  record: SyncRecord;
  /** Opaque; changes on every write of the record, whoever makes it. */
  revision: string;
}

export interface RecordListQuery {
  tenantId: string;
  connectionId: string;
  entity?: string;
  /** Only records whose lastModifiedAt is strictly after this time. */
  modifiedAfter?: IsoTime;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
  /** Page size; implementations cap it at 1,000. */
  limit: number;
  /** Include tombstones (deleted records). Default true: consumers need to see deletions. */
  includeDeleted?: boolean;
}

export interface RecordPage {
  records: SyncRecord[];
  /** Present when more records may follow. Keyset over (lastModifiedAt, id): stable under writes. */
  nextCursor: string | null;
}

/**
 * Canonical records of every connection.
 *
 * Semantics every implementation must keep (tests/conformance/recordStore.conformance.ts):
 * - `write` upserts by `id`; all records of one call become visible together or not at all
 *   where the backing store can do that (SQLite), and each record at least atomically elsewhere.
 * - `getStates` reads the change-detection state of many records in one round trip and never
 *   returns payloads. Missing ids are absent from the map. `rawHash` and `sourceUpdatedAt` come back as written (null if none).
 *   Each state carries the record's revision, the one `getWithRevision` returns, so a page can be
 *   read once and written with compare-and-set (the pull pipeline does).
 * - `markSeen`/`sweepUnseen` implement full-sync deletion detection without writing unchanged
 *   records: the run records which external ids it saw, and the sweep tombstones live records of
 *   the scope that the run did not see. The sweep stamps what it deletes with `stepId` and returns
 *   how many live records carry that stamp as deleted, so a replayed sweep returns the same count.
 *   A record with a pending push is never swept: a local create is in no provider listing until
 *   its push assigns an id, and a provider deletion of a locally changed record is the push's to
 *   find (a data_mismatch conflict for a person), not the sweep's to settle silently.
 *   Nor is a record last written at or after `writtenBefore` (the run's start): another writer
 *   stored it while the run was going (a webhook, a push that created it at the provider, a
 *   conflict resolution), possibly after the run's listing had passed the place where it
 *   would have appeared, so not being seen says nothing about it. Every live record the run
 *   writes itself is in its seen-set, so this spares only other writers' records. One left
 *   live this way is swept by the next full run that does not see it.
 *   A seen-set exists from the run's first `markSeen` of the scope (an empty list of ids opens
 *   it too: a listing that returned nothing saw nothing) until `clearSeen`. `sweepUnseen` on a
 *   scope the run has no seen-set for fails with `not_found` and changes nothing: read as "saw
 *   nothing", a seen-set cleared by a cancel or by another copy of the closing step that finished
 *   first would tombstone every live record of the scope (docs/sync-engine.md).
 * - The feed is in commit order: `write` (and the sweep's tombstones) stores lastModifiedAt no
 *   earlier than 1 ms after the newest its connection holds, keeping the caller's time when it is
 *   already later, so a write whose caller took its time before its reads (a pull page) sorts after
 *   a write that committed meanwhile, and `list` with `modifiedAfter` or a cursor misses neither.
 *   SQLite does this under the write lock (exact); Cosmos DB from a read just before the batch
 *   (racing writers can still invert; docs/cosmos.md). A store may also stamp no earlier than its
 *   clock at the write, and list only what is older than a settled horizon behind that clock
 *   (Cosmos DB does both: its batches become visible one by one, so the feed waits for them): a
 *   change then appears in the feed up to the horizon later, and a cursor never passes the
 *   horizon. SQLite stamps by commit alone and lists everything committed.
 * - Reads are always scoped by tenant and connection; a record of another tenant is never returned.
 * - Two-way sync fields (`base`, `fieldClock`, `pendingPush`) round-trip as written; null and
 *   absent are the same and read back absent. A write replaces the whole record, these included.
 *   `getStates` sets `pendingPush: true` on records that hold one (and leaves it out otherwise).
 * - The links of a moved record (`movedTo` on the tombstone at the old id, `previousIds` on the
 *   record at the new one; OutboundService.moveCreate) round-trip the same way, and `getStates`
 *   returns them when set (left out otherwise): a pull or webhook writes a record from its state
 *   without reading it whole, and must not drop them.
 * - Read-modify-write without losing an update (`getWithRevision` + `ifRevision`): the revision
 *   changes on EVERY write of the record — an upsert, a sweep's tombstone, a local change through
 *   the outbox — even one that leaves `version` as it was. That is why the precondition names a
 *   revision and not a version: `version` counts changes of content, and recording a push's result
 *   (OutboundService.agree) rewrites `base`, `pendingPush` and the provider's copy of `data` at
 *   the same version, so a local change that read the record before that write and committed
 *   after it would pass a version check and drop what the push recorded. With the revision, each
 *   side of that race sees the other's write and reads again. A conditional call is all or nothing
 *   (conditions included) and must fit one transaction: one connection, at most
 *   MAX_CONDITIONAL_WRITE records and MAX_CONDITIONAL_WRITE_BYTES (Cosmos DB's transactional
 *   batch); Cosmos DB refuses a larger call (`internal`: the caller did not split it).
 * - Callers keep each record within MAX_RECORD_BYTES (the pull pipeline rejects a larger one as
 *   a failed record of its page). Cosmos DB refuses a document over its 2 MB with `validation`
 *   naming the record; SQLite has no such limit, which is why callers check, not the store.
 * - Create-only (`ifRevision: null`): a write of a record whose id was read and found empty fails
 *   with `conflict` if anything got there since, a tombstone included. Recording a pushed create
 *   moves the record to the id the provider assigned, which a webhook or pull may have stored
 *   first (OutboundService.agree): the move is create-only, so it never overwrites that record,
 *   nor a local change made to it meanwhile. SQLite checks that no row exists in the write's
 *   transaction; Cosmos DB makes it a Create in the call's transactional batch (409 if the id exists).
 */
export interface RecordStore {
  getStates(scope: RecordScope, externalIds: readonly string[]): Promise<Map<string, RecordState>>;
  write(records: readonly RecordWrite[]): Promise<void>;
  get(scope: RecordScope, externalId: string): Promise<SyncRecord | undefined>;
  /** `get` with the record's revision, for a write that must not overwrite a change made since. */
  getWithRevision(scope: RecordScope, externalId: string): Promise<RevisedRecord | undefined>;
  list(query: RecordListQuery): Promise<RecordPage>;
  /** Number of records in the scope; deleted ones only when asked. */
  count(scope: RecordScope, options?: { includeDeleted?: boolean }): Promise<number>;
  /** Adds ids to the run's seen-set of the scope, opening it if need be (with no ids too). */
  markSeen(runId: string, scope: RecordScope, externalIds: readonly string[]): Promise<void>;
  /**
   * Tombstones the scope's live records that the run did not see and that were last written
   * before `writtenBefore` (see above); `at` stamps the tombstones. Fails with `not_found` when
   * the run has no seen-set for the scope (never marked, or cleared).
   */
  sweepUnseen(runId: string, scope: RecordScope, stepId: string, at: IsoTime, writtenBefore: IsoTime): Promise<number>;
  /** Forgets the seen-set of a run (after its sweep, or when it ends without one). */
  clearSeen(runId: string): Promise<void>;
}
