import type { JSONObject, OperationInput, SqlParameter } from '@azure/cosmos';
import { SyncBridgeError, isSyncBridgeError } from '../../../core/errors';
import type { IsoTime } from '../../../core/model';
import { systemClock, type Clock } from '../../../ports/clock';
import type { ListPendingOptions, OutboxEntry, OutboxStore, OutboxUpdate } from '../../../ports/outboxStore';
import type { RecordWrite } from '../../../ports/recordStore';
import { executeBatch, queryAll, withoutSystemFields } from './cosmosCalls';
import type { CosmosDatabase } from './cosmosDatabase';
import { partitionOf } from './cosmosRecordStore';
import { executeConditionalBatch, recordWriteOperations } from './cosmosRecordWrites';
import { stampRecords } from './feedHorizon';
import { assertSameScope } from '../../outboxScope';
import { nextOrderKey } from './orderKey';

/** `ttl` (seconds): set on a `done` entry only; the records container's default (-1) keeps the rest. */
type OutboxDoc = OutboxEntry & { docType: 'outbox'; orderKey: string; ttl?: number; _etag?: string };

/**
 * How long a `done` entry is kept before Cosmos DB removes it: 30 days, long enough to look at a
 * push that went out (the admin API's outbox views, an operator's question), short enough that a
 * connection's partition does not fill with one document per local change ever made (20 GB per
 * logical partition). Pending, parked and dead entries never expire: each still waits for the
 * worker, a person or a replay.
 */
export const DONE_OUTBOX_TTL_SECONDS = 30 * 24 * 60 * 60;

export interface CosmosOutboxStoreOptions {
  /** Seconds a `done` entry is kept (default DONE_OUTBOX_TTL_SECONDS). */
  doneTtlSeconds?: number;
  /** The clock a local change's record is stamped no earlier than (stampRecords); default the system clock. */
  clock?: Clock;
}

function fromDoc(doc: OutboxDoc): OutboxEntry {
  const { docType: _type, orderKey: _order, ttl: _ttl, ...entry } = withoutSystemFields(doc);
  return entry;
}

/**
 * The transactional outbox on Cosmos DB. An entry is a document in the `records` container, in its
 * record's partition, so `commitLocalChange` is ONE transactional batch: create the entry, upsert
 * the record. Cosmos commits both or neither; an entry id that exists fails the create (409) and
 * with it the batch, and so does a record's compare-and-set condition that does not hold
 * (RecordWrite.ifRevision: a Replace If-Match, 412). Chosen over the change feed (docs/cosmos.md):
 * the feed would need a lease container and a Cosmos-triggered function, and cannot say which
 * fields a change touched.
 * A `done` entry expires DONE_OUTBOX_TTL_SECONDS after it closed (a per-item `ttl`; the container's
 * default -1 keeps every other document); see docs/cosmos.md.
 * `get`/`update` take only the entry id, so they query across partitions by id (an index lookup
 * per physical partition): they run once per push, not per record of a sync.
 */
export class CosmosOutboxStore implements OutboxStore {
  private readonly container;
  private readonly charges;
  private readonly doneTtlSeconds: number;
  private readonly clock: Clock;

  constructor(db: CosmosDatabase, options: CosmosOutboxStoreOptions = {}) {
    this.container = db.container('records');
    this.charges = db.charges;
    this.doneTtlSeconds = options.doneTtlSeconds ?? DONE_OUTBOX_TTL_SECONDS;
    this.clock = options.clock ?? systemClock;
  }

  async commitLocalChange(record: RecordWrite, entry: OutboxEntry, alongside: readonly RecordWrite[] = []): Promise<void> {
    assertSameScope(record, entry, alongside);
    const doc: OutboxDoc = { ...entry, docType: 'outbox', orderKey: nextOrderKey() };
    // Stamped like any record write (the records feed's order and horizon, feedHorizon.ts).
    const { conditional, upserts } = recordWriteOperations(await stampRecords(this.container, this.charges, this.clock, [record, ...alongside]));
    // Cosmos DB applies the batch all or nothing; the order is for the test server, which applies
    // operations one by one until one fails. Conditions first: one that fails comes before any
    // write. Then the entry: a taken id fails before any record is upserted (and a record whose
    // condition held is unchanged since it was read, so the version its change takes is free).
    const operations = [...conditional, { operationType: 'Create', resourceBody: doc as unknown as JSONObject } as OperationInput, ...upserts];
    try {
      await executeConditionalBatch(this.container, this.charges, 'outbox.commit', partitionOf(entry), operations);
    } catch (error) {
      if (isSyncBridgeError(error, 'conflict') && error.status === 409 && !conditional.some((op) => op.operationType === 'Create')) {
        throw new SyncBridgeError('conflict', `Outbox entry ${entry.id} exists already: record version ${entry.version} was taken by another change.`, { cause: error });
      }
      throw error;
    }
  }

  async get(id: string): Promise<OutboxEntry | undefined> {
    const doc = await this.find(id);
    return doc && fromDoc(doc);
  }

  async listPending(options: ListPendingOptions): Promise<OutboxEntry[]> {
    const limit = Math.max(1, Math.min(Math.floor(options.limit), 1000));
    const filters = ["c.docType = 'outbox'", "c.state = 'pending'"];
    const parameters: SqlParameter[] = [];
    if (options.connectionId !== undefined) {
      filters.push('c.connectionId = @connectionId');
      parameters.push({ name: '@connectionId', value: options.connectionId });
    }
    if (options.idleSince !== undefined) {
      // ISO-8601 UTC strings of one form order like the times they name.
      filters.push('c.updatedAt <= @idleSince', '(NOT IS_DEFINED(c.nextAttemptAt) OR IS_NULL(c.nextAttemptAt) OR c.nextAttemptAt <= @idleSince)');
      parameters.push({ name: '@idleSince', value: options.idleSince });
    }
    const docs = await queryAll<OutboxDoc>(this.container, this.charges, 'outbox.listPending', `SELECT TOP ${limit} * FROM c WHERE ${filters.join(' AND ')} ORDER BY c.orderKey`, parameters);
    return docs.map(fromDoc);
  }

  async update(id: string, update: OutboxUpdate, at: IsoTime): Promise<OutboxEntry> {
    const current = await this.find(id);
    if (!current) throw new SyncBridgeError('not_found', `Outbox entry ${id} does not exist.`);
    const { ttl: _ttl, ...stored } = withoutSystemFields(current);
    const next: OutboxDoc = {
      ...stored,
      state: update.state,
      attempts: update.attempts ?? current.attempts,
      ...(update.replays === undefined ? {} : { replays: update.replays }),
      lastError: update.lastError === undefined ? current.lastError : update.lastError,
      ...(update.nextAttemptAt === undefined ? {} : { nextAttemptAt: update.nextAttemptAt }),
      updatedAt: at,
      // Counted from this write; an entry that leaves `done` again loses it and is kept.
      ...(update.state === 'done' ? { ttl: this.doneTtlSeconds } : {}),
    };
    await executeBatch(this.container, this.charges, 'outbox.update', partitionOf(current), [
      { operationType: 'Replace', id, ifMatch: current._etag, resourceBody: next as unknown as JSONObject } as OperationInput,
    ]);
    return fromDoc(next);
  }

  private async find(id: string): Promise<OutboxDoc | undefined> {
    const [doc] = await queryAll<OutboxDoc>(this.container, this.charges, 'outbox.get', "SELECT * FROM c WHERE c.id = @id AND c.docType = 'outbox'", [{ name: '@id', value: id }]);
    return doc;
  }
}
