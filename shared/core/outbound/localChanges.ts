import { randomUUID } from 'node:crypto';
import { SyncBridgeError, isSyncBridgeError } from '../errors';
import { canonicalJson, contentHash } from '../hash';
import { recordId } from '../ids';
import { ownField, setField } from '../jsonFields';
import type { FieldClocks, IsoTime, JsonObject, PushOperation, RecordScope, SyncRecord } from '../model';
import type { OutboxEntry } from '../../ports/outboxStore';
import type { Platform } from '../../ports/platform';
import type { RecordWrite, RevisedRecord } from '../../ports/recordStore';
import { QUEUES, type OutgoingMessage } from '../../ports/queue';
import { outboxId } from './outboxId';

export interface CreateOptions {
  /** The temporary id's UUID part, for an idempotent create (see LocalChangeService.create). Default: a random UUID. */
  localId?: string;
}

/** The origin SyncBridge stamps on field clocks of changes made through its API. */
export const LOCAL_ORIGIN = 'syncbridge';

/** Prefix of the temporary external id of a record created locally, until the provider assigns one. */
export const LOCAL_ID_PREFIX = 'local-';

/**
 * How often a PATCH or DELETE reads the record again when another write got in between its read
 * and its commit (the outbound worker recording a push, another local change); then `conflict`.
 */
const COMMIT_ATTEMPTS = 3;

export interface OutboundMessage {
  outboxId: string;
  /**
   * On a scheduled retry's message: the time it was scheduled for, which the entry records as its
   * `nextAttemptAt`. It tells that message apart from an older one (a relay's re-send) that must
   * not push before the retry is due.
   */
  dueAt?: string;
}

/** The queue message that carries one outbox entry (session = connection, id = entry id). */
export function outboundMessage(entry: Pick<OutboxEntry, 'id' | 'connectionId'>, options: { messageId?: string; at?: Date } = {}): OutgoingMessage<OutboundMessage> {
  return {
    body: options.at ? { outboxId: entry.id, dueAt: options.at.toISOString() } : { outboxId: entry.id },
    messageId: options.messageId ?? entry.id,
    sessionId: entry.connectionId,
    scheduledEnqueueTime: options.at,
  };
}

/**
 * Local changes made through the admin API. Each writes the record and its outbox entry in one
 * transaction (OutboxStore.commitLocalChange), then sends the queue message. A crash between the
 * two leaves a pending entry that `relayPending` sends again; the message id is the entry id, so
 * a second send of a message that did go out is dropped by the broker.
 *
 * A change of a stored record commits only if the record is unchanged since it was read
 * (RecordWrite.ifRevision): otherwise it would write its version over whatever got in between —
 * the outbound worker's record of a push (base, the provider's copy, a create moved to the
 * provider's id, which would come back to life and be created twice) or another local change.
 * PATCH and DELETE then read again and apply themselves to what is stored now.
 */
export class LocalChangeService {
  constructor(private readonly platform: Platform) {}

  /**
   * A new record under a temporary id (`local-` and a random UUID, or `options.localId`).
   *
   * With `localId` the create is idempotent: an admin request's Idempotency-Key holds that id for
   * its whole window, so a retry of a request whose first attempt committed but never answered
   * (a crash, a failed queue send) commits nothing new and gets the record that attempt stored.
   * The stored record is the key's proof of the write, committed in the same transaction as the
   * record and its push. If that record has since been pushed and moved to the provider's id (or
   * deleted), the retry fails with `conflict` rather than create the record a second time.
   */
  async create(scope: RecordScope, data: JsonObject, options: CreateOptions = {}): Promise<SyncRecord> {
    const externalId = `${LOCAL_ID_PREFIX}${options.localId ?? randomUUID()}`;
    const now = this.now();
    const record: SyncRecord = {
      ...scope,
      id: recordId(scope.tenantId, scope.connectionId, scope.entity, externalId),
      externalId,
      data,
      hash: contentHash(data),
      rawHash: null,
      version: 1,
      deleted: false,
      deletedAt: null,
      firstSeenAt: now,
      lastModifiedAt: now,
      lastAction: 'added',
      sourceUpdatedAt: null,
      lastStepId: '',
      base: null,
      fieldClock: stamp({}, Object.keys(data), now),
    };
    if (options.localId === undefined) return this.commit(record, 'create', Object.keys(data));
    try {
      // Create-only (ifRevision null): a record or entry already under this id means an earlier attempt committed.
      return await this.commit(record, 'create', Object.keys(data), [], null);
    } catch (error) {
      if (!isSyncBridgeError(error, 'conflict')) throw error;
      const earlier = await this.platform.records.get(scope, externalId);
      if (earlier && !earlier.deleted) return earlier;
      const where = earlier?.movedTo ? `has since been pushed and moved to the provider's id "${earlier.movedTo}"` : `has since been pushed and moved to the provider's id, or deleted; GET it to see where it went`;
      throw new SyncBridgeError('conflict', `The ${scope.entity} record created under this idempotency key (${externalId}) ${where}.`, { cause: error });
    }
  }

  /** Partial update: the given top-level fields replace the stored ones; the others stay. */
  async update(scope: RecordScope, externalId: string, fields: JsonObject): Promise<{ record: SyncRecord; changed: boolean }> {
    return this.againOnConflict(async () => {
      const { record: current, revision } = await this.live(scope, externalId);
      const data = { ...current.data, ...fields };
      const changedFields = Object.keys(fields).filter((f) => canonicalJson(fields[f]) !== canonicalJson(current.data[f]));
      if (changedFields.length === 0) return { record: current, changed: false };
      // The base stays the last agreed version while changes pile up before a push.
      const record = this.changed(current, data, current.base ?? (current.pendingPush ? null : current.data), changedFields);
      const op: PushOperation = current.pendingPush?.op === 'create' ? 'create' : 'update';
      return { record: await this.commit(record, op, op === 'create' ? Object.keys(data) : changedFields, [], revision, pendingCreateOf(current)), changed: true };
    });
  }

  async remove(scope: RecordScope, externalId: string): Promise<SyncRecord> {
    return this.againOnConflict(async () => {
      const { record: current, revision } = await this.live(scope, externalId);
      const now = this.now();
      const record: SyncRecord = {
        ...current,
        version: current.version + 1,
        deleted: true,
        deletedAt: now,
        lastModifiedAt: now,
        lastAction: 'deleted',
        base: current.base ?? (current.pendingPush ? null : current.data),
      };
      return this.commit(record, 'delete', [], [], revision, pendingCreateOf(current));
    });
  }

  /**
   * A resolved conflict: the record takes `data` as a new local change based on `base` (what the
   * provider holds), so that the push sends exactly what differs from it. With `revision`, only
   * if the record is unchanged since it was read (else `conflict`).
   */
  async rebase(current: SyncRecord, data: JsonObject, base: JsonObject | null, revision?: string): Promise<SyncRecord> {
    const changedFields = Object.keys({ ...data, ...(base ?? {}) }).filter((f) => canonicalJson(data[f]) !== canonicalJson(base?.[f]));
    const record = this.changed(current, data, base, changedFields);
    const op: PushOperation = current.pendingPush?.op === 'create' ? 'create' : 'update';
    return this.commit(record, op, changedFields, [], revision);
  }

  /**
   * A resolved conflict that keeps a record the provider deleted: `data` goes out as a create
   * (the provider assigns a new id; the push moves the record there, as it does a local create,
   * and the old id becomes a tombstone). The entry is a new version's, so the create has an
   * Idempotency-Key of its own. `revision` as for rebase.
   */
  async recreate(current: SyncRecord, data: JsonObject, revision?: string): Promise<SyncRecord> {
    const fields = Object.keys(data);
    return this.commit({ ...this.changed(current, data, null, fields), deleted: false, deletedAt: null }, 'create', fields, [], revision);
  }

  /** A resolved conflict that keeps a local delete: delete again, based on the provider's copy (`revision` as for rebase). */
  async redelete(current: SyncRecord, base: JsonObject | null, revision?: string): Promise<SyncRecord> {
    const now = this.now();
    return this.commit({ ...current, version: current.version + 1, lastModifiedAt: now, deletedAt: now, base }, 'delete', [], [], revision);
  }

  /**
   * Sends the messages of pending entries again (after a crash between commit and send, or between
   * a retry's update and its scheduled send). Only entries that should have been handled by now:
   * idle for `idleForMs` (default 0) since they were last updated and since their next attempt
   * was due. An entry waiting for a scheduled retry (a provider's Retry-After of ten minutes, a
   * backoff) is never re-sent before that time, so the provider is not hit before it allowed; the
   * outbound worker updates an entry on every attempt, so one idle past its due time has lost its
   * message. A re-sent message that still exists is dropped by the broker's duplicate detection
   * (the message id is the entry id); one that gets through finds the entry done and is skipped.
   */
  async relayPending(connectionId?: string, options: { idleForMs?: number } = {}): Promise<number> {
    const idleSince = new Date(this.platform.clock.now().getTime() - (options.idleForMs ?? 0)).toISOString();
    const lost = await this.platform.outbox.listPending({ connectionId, limit: 1000, idleSince });
    if (lost.length === 0) return 0;
    await this.platform.queue.send(QUEUES.outbound, lost.map((entry) => outboundMessage(entry)));
    // A lost message means an instance died between commit and send: worth an operator's eye.
    const connections = [...new Set(lost.map((entry) => entry.connectionId))];
    this.platform.telemetry.log('warn', 'Re-sent pending pushes whose queue message was lost.', { count: lost.length, connections: connections.slice(0, 20).join(',') });
    return lost.length;
  }

  /**
   * A local change made while an earlier version of the record was being pushed, carried onto
   * what the provider now holds (`agreed`: the record as both sides agree after that push). The
   * fields the later change touched (against `pushed`, the data that went out) are applied to
   * `agreed` and pushed on their own; a later delete is pushed as a delete. `alongside` records
   * commit in the same transaction (the tombstone a moved create leaves behind, with its
   * compare-and-set condition). With nothing left to push, `agreed` is written as it is.
   *
   * `agreed` may also be a record stored already, read with `agreedRevision` (a pushed create's
   * new id, which a webhook or pull stored first, maybe with a local change of its own): the change
   * is then applied to it as a PATCH would be — on top of its data, its base kept — and the write
   * is conditional on that revision (`null`: on nothing being stored there; RecordWrite.ifRevision).
   */
  async carryOver(agreed: SyncRecord, current: SyncRecord, pushed: JsonObject, alongside: readonly RecordWrite[] = [], agreedRevision?: string | null): Promise<SyncRecord> {
    const now = this.now();
    // As in update(): the last version both sides agreed on; `agreed.data` itself unless a local change waits on it.
    const base = agreed.base ?? (agreed.pendingPush ? null : agreed.data);
    if (current.deleted) {
      const record: SyncRecord = { ...agreed, version: agreed.version + 1, deleted: true, deletedAt: current.deletedAt ?? now, lastModifiedAt: now, lastAction: 'deleted', base, fieldClock: current.fieldClock };
      return this.commit(record, 'delete', [], alongside, agreedRevision);
    }
    const { data, changedFields } = applyChanges(agreed.data, pushed, current.data);
    if (changedFields.length === 0) {
      await this.platform.records.write([agreedRevision === undefined ? agreed : { ...agreed, ifRevision: agreedRevision }, ...alongside]);
      return agreed;
    }
    const record = this.changed({ ...agreed, fieldClock: { ...current.fieldClock, ...agreed.fieldClock } }, data, base, changedFields);
    return this.commit(record, 'update', changedFields, alongside, agreedRevision);
  }

  /**
   * A pending change whose entry was used up by a push while a pull or webhook merged into the
   * record (OutboundService.agree): the record as the merge left it — data, base, clocks — goes
   * out again under a new entry, whose worker compares it with the provider's copy of that moment
   * and pushes, merges, settles or parks it. Only if the record still has `revision`.
   */
  async resend(current: SyncRecord, revision: string): Promise<SyncRecord> {
    const op = current.pendingPush?.op ?? 'update';
    const base = current.base ?? {};
    const changedFields = op === 'delete' ? [] : Object.keys({ ...base, ...current.data }).filter((f) => canonicalJson(current.data[f]) !== canonicalJson(base[f]));
    return this.commit({ ...current, version: current.version + 1, lastModifiedAt: this.now() }, op, changedFields, [], revision);
  }

  /** The next version of a record whose data changed locally, with the changed fields' clocks stamped. */
  private changed(current: SyncRecord, data: JsonObject, base: JsonObject | null, changedFields: string[]): SyncRecord {
    const now = this.now();
    return {
      ...current,
      data,
      hash: contentHash(data),
      rawHash: null,
      version: current.version + 1,
      lastModifiedAt: now,
      lastAction: 'updated',
      base,
      fieldClock: stamp(current.fieldClock ?? {}, changedFields, now),
    };
  }

  /**
   * Stores the change with its outbox entry and queues its push; with `revision`, only if the record
   * still has it (`null`: only if none is stored). `priorCreate`: OutboxEntry.priorCreate.
   */
  private async commit(record: SyncRecord, op: PushOperation, changedFields: string[], alongside: readonly RecordWrite[] = [], revision?: string | null, priorCreate?: string): Promise<SyncRecord> {
    const id = outboxId(record.id, record.version);
    const now = record.lastModifiedAt;
    const stored: SyncRecord = { ...record, lastStepId: `local:${id}`, pendingPush: { op, version: record.version, outboxId: id, since: now } };
    const entry: OutboxEntry = {
      id,
      tenantId: record.tenantId,
      connectionId: record.connectionId,
      entity: record.entity,
      externalId: record.externalId,
      recordId: record.id,
      version: record.version,
      op,
      data: op === 'delete' ? null : record.data,
      changedFields,
      state: 'pending',
      attempts: 0,
      ...(priorCreate ? { priorCreate } : {}),
      createdAt: now,
      updatedAt: now,
    };
    await this.platform.outbox.commitLocalChange(revision === undefined ? stored : { ...stored, ifRevision: revision }, entry, alongside);
    try {
      await this.platform.queue.send(QUEUES.outbound, outboundMessage(entry));
    } catch (error) {
      // The change and its entry are stored, and the relay sends a pending entry whose message was
      // lost (relayPending, the outboxRelay timer): the change stands. Failing here would tell the
      // caller it did not (an API client would make it again; a conflict's resolver would release
      // its claim with the decision already written).
      this.platform.telemetry.exception(error, { connectionId: entry.connectionId, outboxId: entry.id, stage: 'outbound-send' });
    }
    return stored;
  }

  private async live(scope: RecordScope, externalId: string): Promise<RevisedRecord> {
    const read = await this.platform.records.getWithRevision(scope, externalId);
    if (!read || read.record.deleted) {
      const moved = read?.record.movedTo ? `; it moved to "${read.record.movedTo}", the id the provider assigned` : '';
      throw new SyncBridgeError('not_found', `There is no live ${scope.entity} record "${externalId}" in connection ${scope.connectionId}${moved}.`);
    }
    return read;
  }

  /**
   * Runs a read-and-commit again while it loses to another write (`conflict`), at most
   * COMMIT_ATTEMPTS times: each run reads the record afresh, as a request arriving a moment later would.
   */
  private async againOnConflict<T>(attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n += 1) {
      try {
        return await attempt();
      } catch (error) {
        if (!isSyncBridgeError(error, 'conflict') || n >= COMMIT_ATTEMPTS) throw error;
      }
    }
  }

  private now(): IsoTime {
    return this.platform.clock.now().toISOString();
  }
}

/**
 * `theirs` with the top-level fields `after` changed against `before` (a field `after` dropped is
 * dropped), and which fields those are.
 */
export function applyChanges(theirs: JsonObject, before: JsonObject, after: JsonObject): { data: JsonObject; changedFields: string[] } {
  const data: JsonObject = { ...theirs };
  const changedFields: string[] = [];
  for (const field of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const value = ownField(after, field);
    if (canonicalJson(ownField(before, field)) === canonicalJson(value)) continue;
    if (value === undefined) delete data[field];
    else setField(data, field, value);
    if (canonicalJson(ownField(data, field)) !== canonicalJson(ownField(theirs, field))) changedFields.push(field);
  }
  return { data, changedFields };
}

/**
 * The entry of a create still pending on `current`, which a later change of the record names as
 * its priorCreate: that create may have reached the provider already. A local create (temporary
 * id), or a re-create (a resolution that keeps a record the provider deleted; it keeps its
 * provider id, and OutboundService sends it again only if the provider no longer has that id).
 */
function pendingCreateOf(current: SyncRecord): string | undefined {
  return current.pendingPush?.op === 'create' ? current.pendingPush.outboxId : undefined;
}

function stamp(clock: FieldClocks, fields: readonly string[], at: IsoTime): FieldClocks {
  const next = { ...clock };
  for (const field of fields) next[field] = { timestamp: at, origin: LOCAL_ORIGIN };
  return next;
}
