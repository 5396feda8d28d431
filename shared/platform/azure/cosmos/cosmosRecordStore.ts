import type { JSONObject, OperationInput, PartitionKey } from '@azure/cosmos';
import { SyncBridgeError } from '../../../core/errors';
import { recordId } from '../../../core/ids';
import type { IsoTime, RecordScope, RecordState, SyncRecord } from '../../../core/model';
import { systemClock, type Clock } from '../../../ports/clock';
import { MAX_CONDITIONAL_WRITE, type RecordListQuery, type RecordPage, type RecordStore, type RecordWrite, type RevisedRecord } from '../../../ports/recordStore';
import { splitIntoBatches } from './cosmosBatchLimits';
import { executeBatch, queryAll, readItem } from './cosmosCalls';
import type { CosmosDatabase } from './cosmosDatabase';
import { toSyncBridgeError } from './cosmosErrors';
import { decodeListCursor, derivedId, encodeListCursor, fromRecordDoc, normaliseTime, sortKeyOf, toRecordDoc, type RecordDoc } from './cosmosRecordDocs';
import { executeConditionalBatch, recordWriteOperations } from './cosmosRecordWrites';
import { DEFAULT_FEED_HORIZON_MS, FeedHorizon, stampRecords } from './feedHorizon';

const MAX_LIST_LIMIT = 1000;
/** Cosmos DB's limit of operations per transactional batch (the port's MAX_CONDITIONAL_WRITE). */
const BATCH_SIZE = MAX_CONDITIONAL_WRITE;
/** How many id-array entries one query carries (keeps query text far below the 256 KB limit). */
const IDS_PER_QUERY = 1000;

type StateRow = Pick<RecordDoc, 'externalId' | 'hash' | 'rawHash' | 'version' | 'deleted' | 'lastAction' | 'lastStepId' | 'firstSeenAt' | 'sourceUpdatedAt' | 'movedTo' | 'previousIds'> & { pending: boolean; revision: string };

export function partitionOf(scope: { tenantId: string; connectionId: string }): PartitionKey {
  return [scope.tenantId, scope.connectionId];
}

/** A record a local change waits to push is the push's to settle, never the sweep's (RecordStore). */
const NO_PENDING_PUSH = '(NOT IS_DEFINED(c.pendingPush) OR IS_NULL(c.pendingPush))';

export interface CosmosRecordStoreOptions {
  /** The clock writes are stamped by and the feed's horizon is measured on. Default: the system clock. */
  clock?: Clock;
  /**
   * How far behind the clock the records feed (`list`) stops, in ms (feedHorizon.ts,
   * docs/cosmos.md): a change appears in the feed up to this much later, and a write call whose
   * batches take longer than this (less the clock difference between instances) to become visible
   * can be missed by a polling client. 0 lists everything at once (tests that read straight after
   * writing; no protection). Default DEFAULT_FEED_HORIZON_MS (10 s).
   */
  feedHorizonMs?: number;
}

/**
 * RecordStore on Cosmos DB: a connection's records are one logical partition of `records`
 * ([tenantId, connectionId]), so every read of the pipeline is a single-partition query:
 * - `getStates` of a page: ONE query projecting the change-detection fields and the `_etag` (the
 *   revision a compare-and-set write names), never payloads;
 * - `write` of a page: transactional batches of up to 100 upserts and 1.8 MB per partition
 *   (cosmosBatchLimits.ts; the pipeline writes only created/changed records, so an unchanged page
 *   costs no write at all); a record whose document is over 2 MB is refused (`validation`);
 * - full-sync deletion detection writes a small `seen` document per page instead of touching
 *   every unchanged record, and the sweep tombstones only what the run did not see.
 * - a compare-and-set write (`ifRevision`) is a Replace If-Match the document's `_etag` (a Create
 *   for `null`), in one batch with the rest of its call (cosmosRecordWrites.ts).
 * - the feed (`list`) stops at a settled horizon behind the clock, and writes are stamped no
 *   earlier than the clock (feedHorizon.ts): Cosmos DB has no commit order to stamp by.
 * Request charges are added to the database's meter per operation (docs/cosmos.md).
 */
export class CosmosRecordStore implements RecordStore {
  private readonly container;
  private readonly charges;
  private readonly clock: Clock;
  private readonly horizon: FeedHorizon;

  constructor(db: CosmosDatabase, options: CosmosRecordStoreOptions = {}) {
    this.container = db.container('records');
    this.charges = db.charges;
    this.clock = options.clock ?? systemClock;
    this.horizon = new FeedHorizon(this.clock, options.feedHorizonMs ?? DEFAULT_FEED_HORIZON_MS);
  }

  async getStates(scope: RecordScope, externalIds: readonly string[]): Promise<Map<string, RecordState>> {
    const states = new Map<string, RecordState>();
    for (let i = 0; i < externalIds.length; i += IDS_PER_QUERY) {
      const rows = await queryAll<StateRow>(
        this.container,
        this.charges,
        'records.getStates',
        `SELECT c.externalId, c.hash, c.rawHash, c.version, c.deleted, c.lastAction, c.lastStepId, c.firstSeenAt, c.sourceUpdatedAt, c.movedTo, c.previousIds, c._etag AS revision, IS_DEFINED(c.pendingPush) AS pending
         FROM c WHERE c.docType = 'record' AND c.entity = @entity AND ARRAY_CONTAINS(@ids, c.externalId)`,
        [{ name: '@entity', value: scope.entity }, { name: '@ids', value: externalIds.slice(i, i + IDS_PER_QUERY) as string[] }],
        partitionOf(scope),
      );
      for (const row of rows) {
        states.set(row.externalId, {
          externalId: row.externalId,
          hash: row.hash,
          rawHash: row.rawHash ?? null,
          version: row.version,
          deleted: row.deleted,
          lastAction: row.lastAction,
          lastStepId: row.lastStepId,
          firstSeenAt: row.firstSeenAt,
          revision: row.revision,
          sourceUpdatedAt: row.sourceUpdatedAt ?? null,
          ...(row.pending ? { pendingPush: true } : {}),
          ...(row.movedTo ? { movedTo: row.movedTo } : {}),
          ...(row.previousIds ? { previousIds: row.previousIds } : {}),
        });
      }
    }
    return states;
  }

  async write(records: readonly RecordWrite[]): Promise<void> {
    if (records.length === 0) return;
    if (records.some((record) => record.ifRevision !== undefined)) return this.writeIf(await this.stamped(records));
    const byPartition = new Map<string, { key: PartitionKey; records: RecordWrite[] }>();
    for (const record of records) {
      const name = `${record.tenantId}\u0000${record.connectionId}`;
      let group = byPartition.get(name);
      if (!group) byPartition.set(name, (group = { key: partitionOf(record), records: [] }));
      group.records.push(record);
    }
    for (const group of byPartition.values()) {
      const { key } = group;
      const docs = (await this.stamped(group.records)).map(toRecordDoc);
      // Upserts need not commit together: batches by count and by size (Cosmos DB's limits).
      const operations = docs.map((doc): OperationInput => ({ operationType: 'Upsert', resourceBody: doc as unknown as JSONObject }) as OperationInput);
      await Promise.all(splitIntoBatches(operations, key).map((batch) => executeBatch(this.container, this.charges, 'records.write', key, batch)));
    }
  }

  /** stampRecords (feedHorizon.ts): right before the batches that write them. */
  private stamped(records: readonly RecordWrite[]): Promise<RecordWrite[]> {
    return stampRecords(this.container, this.charges, this.clock, records);
  }

  /** A write with compare-and-set conditions: one transactional batch, so all of it or nothing. */
  private async writeIf(records: readonly RecordWrite[]): Promise<void> {
    const [first] = records;
    if (records.length > BATCH_SIZE || records.some((r) => r.tenantId !== first.tenantId || r.connectionId !== first.connectionId)) {
      throw new SyncBridgeError('internal', `A conditional record write must fit one transaction (one connection, at most ${BATCH_SIZE} records); got ${records.length}.`);
    }
    const { conditional, upserts } = recordWriteOperations(records);
    await executeConditionalBatch(this.container, this.charges, 'records.write', partitionOf(first), [...conditional, ...upserts]);
  }

  async get(scope: RecordScope, externalId: string): Promise<SyncRecord | undefined> {
    const doc = await readItem<RecordDoc>(this.container, this.charges, 'records.get', recordId(scope.tenantId, scope.connectionId, scope.entity, externalId), partitionOf(scope));
    return doc && doc.docType === 'record' ? fromRecordDoc(doc) : undefined;
  }

  async getWithRevision(scope: RecordScope, externalId: string): Promise<RevisedRecord | undefined> {
    const doc = await readItem<RecordDoc>(this.container, this.charges, 'records.get', recordId(scope.tenantId, scope.connectionId, scope.entity, externalId), partitionOf(scope));
    return doc && doc.docType === 'record' ? { record: fromRecordDoc(doc), revision: doc._etag } : undefined;
  }

  async list(query: RecordListQuery): Promise<RecordPage> {
    if (!Number.isInteger(query.limit) || query.limit < 1) {
      throw new SyncBridgeError('validation', `limit must be a whole number of at least 1, got ${query.limit}.`);
    }
    const limit = Math.min(query.limit, MAX_LIST_LIMIT);
    const where = ["c.docType = 'record'"];
    const parameters = [];
    if (query.entity !== undefined) {
      where.push('c.entity = @entity');
      parameters.push({ name: '@entity', value: query.entity });
    }
    if (query.modifiedAfter !== undefined) {
      // Every sortKey of a record modified at or before the instant sorts below `<instant>|~`.
      where.push('c.sortKey > @modifiedAfter');
      parameters.push({ name: '@modifiedAfter', value: `${normaliseTime(query.modifiedAfter, 'modifiedAfter')}|~` });
    }
    if (query.cursor !== undefined) {
      where.push('c.sortKey > @after');
      parameters.push({ name: '@after', value: decodeListCursor(query.cursor) });
    }
    if (query.includeDeleted === false) where.push('c.deleted = false');
    // Only what has settled (feedHorizon.ts): neither this page nor its cursor passes the horizon,
    // so a write still becoming visible behind it is listed by the next poll.
    where.push('c.sortKey < @settled');
    parameters.push({ name: '@settled', value: this.horizon.listBound() });
    const docs = await queryAll<RecordDoc>(
      this.container,
      this.charges,
      'records.list',
      `SELECT TOP ${limit + 1} * FROM c WHERE ${where.join(' AND ')} ORDER BY c.sortKey`,
      parameters,
      partitionOf(query),
    );
    const page = docs.slice(0, limit);
    return {
      records: page.map(fromRecordDoc),
      nextCursor: docs.length > limit ? encodeListCursor(page[page.length - 1].sortKey) : null,
    };
  }

  async count(scope: RecordScope, options: { includeDeleted?: boolean } = {}): Promise<number> {
    const [n] = await queryAll<number>(
      this.container,
      this.charges,
      'records.count',
      `SELECT VALUE COUNT(1) FROM c WHERE c.docType = 'record' AND c.entity = @entity${options.includeDeleted ? '' : ' AND c.deleted = false'}`,
      [{ name: '@entity', value: scope.entity }],
      partitionOf(scope),
    );
    return n ?? 0;
  }

  async markSeen(runId: string, scope: RecordScope, externalIds: readonly string[]): Promise<void> {
    // Deterministic id: a replayed step writes the same document again instead of a second one.
    // An empty mark writes one too (an entity the provider lists as empty): the sweep reads "no
    // seen document" as "no seen-set", never as "saw nothing" (RecordStore.sweepUnseen).
    const doc = { id: derivedId('seen', runId, scope.entity, ...externalIds), docType: 'seen', tenantId: scope.tenantId, connectionId: scope.connectionId, runId, entity: scope.entity, externalIds };
    try {
      const response = await this.container.items.upsert(doc);
      this.charges.add('records.markSeen', response.requestCharge);
    } catch (error) {
      throw toSyncBridgeError(error, 'records.markSeen');
    }
  }

  async sweepUnseen(runId: string, scope: RecordScope, stepId: string, at: IsoTime, writtenBefore: IsoTime): Promise<number> {
    const key = partitionOf(scope);
    // Records written since the run began are another writer's (RecordStore): sortKey starts with
    // the normalised lastModifiedAt, and every key of a record written before the instant sorts
    // below `<instant>|` (one written at the instant itself sorts above it).
    const untouchedSince = { name: '@writtenBefore', value: `${normaliseTime(writtenBefore, 'writtenBefore')}|` };
    const memoId = derivedId('sweep', runId, scope.entity, stepId);
    const memo = await readItem<{ swept: number }>(this.container, this.charges, 'records.sweep', memoId, key);
    if (memo) return memo.swept;

    const seen = new Set<string>();
    const seenDocs = await queryAll<{ externalIds: string[] }>(
      this.container, this.charges, 'records.sweep',
      "SELECT c.externalIds FROM c WHERE c.docType = 'seen' AND c.runId = @runId AND c.entity = @entity",
      [{ name: '@runId', value: runId }, { name: '@entity', value: scope.entity }], key,
    );
    if (seenDocs.length === 0) {
      throw new SyncBridgeError('not_found', `Run ${runId} has no seen-set for ${scope.entity} of connection ${scope.connectionId} (it never marked one, or it was cleared when the run ended); refusing to sweep, which would tombstone every record of the entity.`);
    }
    for (const doc of seenDocs) for (const id of doc.externalIds) seen.add(id);
    const live = await queryAll<{ id: string; externalId: string }>(
      this.container, this.charges, 'records.sweep',
      `SELECT c.id, c.externalId FROM c WHERE c.docType = 'record' AND c.entity = @entity AND c.deleted = false AND ${NO_PENDING_PUSH} AND c.sortKey < @writtenBefore`,
      [{ name: '@entity', value: scope.entity }, untouchedSince], key,
    );
    const unseen = live.filter((row) => !seen.has(row.externalId)).map((row) => row.id);
    for (let i = 0; i < unseen.length; i += BATCH_SIZE) {
      const docs = await queryAll<RecordDoc & { _etag: string }>(
        this.container, this.charges, 'records.sweep',
        `SELECT * FROM c WHERE c.docType = 'record' AND ARRAY_CONTAINS(@ids, c.id) AND c.deleted = false AND ${NO_PENDING_PUSH} AND c.sortKey < @writtenBefore`,
        [{ name: '@ids', value: unseen.slice(i, i + BATCH_SIZE) }, untouchedSince], key,
      );
      if (docs.length === 0) continue;
      // The tombstones sort after everything written before them, like any write (stamped), and
      // each hundred is stamped just before its batches: a long sweep's last ones must not carry
      // the time its first ones were written at, or the feed's horizon would not cover them.
      const stampedAt = (await this.stamped([{ ...scope, lastModifiedAt: at } as RecordWrite]))[0].lastModifiedAt;
      const operations = docs.map((doc): OperationInput => {
        const tombstone: RecordDoc = { ...doc, deleted: true, deletedAt: at, lastModifiedAt: stampedAt, lastAction: 'deleted', version: doc.version + 1, lastStepId: stepId, sortKey: sortKeyOf(stampedAt, doc.id) };
        // If-Match: a record changed since it was read (a webhook, a local write) is not swept blindly.
        return { operationType: 'Replace', id: doc.id, ifMatch: doc._etag, resourceBody: tombstone as unknown as JSONObject } as OperationInput;
      });
      // Tombstones are whole documents: a hundred large records are more than one batch may carry.
      for (const batch of splitIntoBatches(operations, key)) await executeBatch(this.container, this.charges, 'records.sweep', key, batch);
    }
    // The count is read back by the step's stamp, so a sweep that crashed before its memo was
    // written counts what it tombstoned the first time when it is replayed.
    const [swept] = await queryAll<number>(
      this.container, this.charges, 'records.sweep',
      "SELECT VALUE COUNT(1) FROM c WHERE c.docType = 'record' AND c.entity = @entity AND c.deleted = true AND c.lastStepId = @stepId",
      [{ name: '@entity', value: scope.entity }, { name: '@stepId', value: stepId }], key,
    );
    await executeBatch(this.container, this.charges, 'records.sweep', key, [
      { operationType: 'Upsert', resourceBody: { id: memoId, docType: 'sweep', tenantId: scope.tenantId, connectionId: scope.connectionId, runId, entity: scope.entity, stepId, swept: swept ?? 0 } } as OperationInput,
    ]);
    return swept ?? 0;
  }

  async clearSeen(runId: string): Promise<void> {
    // The run's seen sets and sweep memos, wherever they are (runs are few; this is off the hot path).
    const docs = await queryAll<{ id: string; tenantId: string; connectionId: string }>(
      this.container, this.charges, 'records.clearSeen',
      "SELECT c.id, c.tenantId, c.connectionId FROM c WHERE (c.docType = 'seen' OR c.docType = 'sweep') AND c.runId = @runId",
      [{ name: '@runId', value: runId }],
    );
    const byPartition = new Map<string, { key: PartitionKey; ids: string[] }>();
    for (const doc of docs) {
      const name = `${doc.tenantId}\u0000${doc.connectionId}`;
      let group = byPartition.get(name);
      if (!group) byPartition.set(name, (group = { key: partitionOf(doc), ids: [] }));
      group.ids.push(doc.id);
    }
    for (const { key, ids } of byPartition.values()) {
      for (let i = 0; i < ids.length; i += BATCH_SIZE) {
        await executeBatch(this.container, this.charges, 'records.clearSeen', key, ids.slice(i, i + BATCH_SIZE).map((id) => ({ operationType: 'Delete', id }) as OperationInput));
      }
    }
  }
}
