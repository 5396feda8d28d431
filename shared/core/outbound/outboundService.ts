import { hash } from 'node:crypto';
import { adapterFor } from '../credentials/adapterFor';
import type { AdapterRegistry } from '../../adapters/registry';
import type { ProviderAdapter, ProviderRecord, PushRequest } from '../../adapters/adapter';
import type { ConflictKind, DeadLetterReason } from '../../ports/conflictStore';
import type { OutboxEntry } from '../../ports/outboxStore';
import type { Platform } from '../../ports/platform';
import { QUEUES } from '../../ports/queue';
import type { RecordWrite, RevisedRecord } from '../../ports/recordStore';
import { isSyncBridgeError, SyncBridgeError } from '../errors';
import { canonicalJson, contentHash } from '../hash';
import { recordId } from '../ids';
import { ownField, setField } from '../jsonFields';
import { CustomMergeRules, differingFields, threeWayMerge, type EntityMergePolicy } from '../merge';
import type { Connection, JsonObject, SyncRecord } from '../model';
import { backoffDelayMs, resolveBackoff, type PushRetryOptions, type ResolvedPushRetryOptions } from './backoff';
import { DEFAULT_HELD_RECHECK_MS, heldReason, holdsPushes } from './connectionHold';
import { classifyPushFailure, failureText, isGone, isPreconditionFailed } from './pushFailure';
import { LOCAL_ID_PREFIX, LOCAL_ORIGIN, LocalChangeService, applyChanges, outboundMessage, type OutboundMessage } from './localChanges';

/** `held`: the connection waits for a person (reauthorization, resume); the entry stays pending (connectionHold.ts). */
export type PushOutcome = 'pushed' | 'merged' | 'superseded' | 'skipped' | 'retry_scheduled' | 'held' | 'parked' | 'dead';

export interface OutboundServiceOptions {
  retry?: PushRetryOptions;
  customRules?: CustomMergeRules;
  random?: () => number;
  /**
   * While a connection waits for reauthorization or is paused, how long a held push waits before
   * the worker checks the connection again. Default DEFAULT_HELD_RECHECK_MS (5 minutes).
   */
  heldRecheckMs?: number;
}

/** Policy used when a connection names none for an entity: nobody's change is dropped silently. */
const DEFAULT_POLICY: EntityMergePolicy = { default: { kind: 'manual' } };

/**
 * How often recording a push's result reads the record again after another write got in first.
 * Each lost race means a local change (or a pull) committed in the few milliseconds between a
 * read and a write; losing this many in a row is not expected, and the push is then retried.
 */
const AGREE_ATTEMPTS = 5;

/**
 * Pushes one outbox entry to its provider (the outbound worker's logic). A 412 on the first push
 * means the remote changed: fetch, merge, push again. Every other failure is classified once, in
 * classifyPushFailure (pushFailure.ts): a scheduled retry (5xx, 429, network, a fault of our own
 * store or one nobody classified), a parked conflict (a refused value, a clash, a record gone at
 * the provider) or a dead letter (auth, a read-only provider or other setup fault), which records
 * what failed as its reason code. While the connection waits for a person (reauthorization, a
 * pause) a push is held instead: pending, checked again later, pushed once the connection is active.
 */
export class OutboundService {
  private readonly retry: ResolvedPushRetryOptions;
  private readonly rules: CustomMergeRules;
  private readonly changes: LocalChangeService;
  private readonly heldRecheckMs: number;

  constructor(
    private readonly platform: Platform,
    private readonly adapters: AdapterRegistry,
    private readonly options: OutboundServiceOptions = {},
  ) {
    this.retry = resolveBackoff(options.retry);
    this.rules = options.customRules ?? new CustomMergeRules();
    this.changes = new LocalChangeService(platform);
    this.heldRecheckMs = options.heldRecheckMs ?? DEFAULT_HELD_RECHECK_MS;
    if (!Number.isInteger(this.heldRecheckMs) || this.heldRecheckMs < 1) {
      throw new SyncBridgeError('configuration', `heldRecheckMs must be a whole number of milliseconds of at least 1; got ${this.heldRecheckMs}.`);
    }
  }

  async handle(message: OutboundMessage): Promise<PushOutcome> {
    const entry = await this.platform.outbox.get(message.outboxId);
    if (!entry || entry.state !== 'pending') return 'skipped';
    // A message older than the retry this entry waits for — a relay's re-send that arrived while an
    // attempt ran for longer than the relay's idle time — must not push before the provider allowed
    // (Retry-After) or the backoff ran out; the retry's own message comes when it is due. That one
    // names its due time, so a clock running ahead of the broker's never makes it skip itself.
    if (entry.nextAttemptAt && message.dueAt !== entry.nextAttemptAt && Date.parse(entry.nextAttemptAt) > this.platform.clock.now().getTime()) return 'skipped';
    const scope = { tenantId: entry.tenantId, connectionId: entry.connectionId, entity: entry.entity };
    const read = await this.platform.records.getWithRevision(scope, entry.externalId);
    const record = read?.record;
    // A later change of the record has its own entry, which pushes everything since the base.
    if (!record || record.pendingPush?.outboxId !== entry.id) return this.supersede(entry);
    // A create before this change that the provider accepted with an answer SyncBridge could not use
    // made a record there under an id unknown here: sending this change could make a second one.
    const { unusable, lostCreate } = await this.priorCreates(entry);
    if (unusable) {
      const reason = `An earlier create of this record (${unusable.id}) was accepted by the provider with an answer SyncBridge could not use, so the record probably exists there under an id unknown here; this change was not sent (it could create the record twice). Resolve that create's conflict first.`;
      await this.park(entry, record, 'data_mismatch', reason, null, { fields: entry.changedFields });
      return 'parked';
    }
    if (!lostCreate && entry.op === 'delete' && entry.externalId.startsWith(LOCAL_ID_PREFIX)) return this.closeNeverPushed(entry, read!);
    const connection = await this.platform.connections.get(entry.connectionId);
    if (!connection) {
      await this.finish(entry, 'dead', `Connection ${entry.connectionId} no longer exists.`);
      return 'dead';
    }
    // Nothing is sent for a connection that waits for a person: the provider would refuse it (or
    // the refresh path refuse at once), and the entry would be dead-lettered with nothing to send it
    // again once the person has acted.
    if (holdsPushes(connection)) return this.hold(entry, connection);
    try {
      const adapter = await this.adapterFor(connection);
      if (lostCreate && !(await this.wentInPlace(adapter, lostCreate))) return await this.replayCreate(adapter, connection, entry, lostCreate, record);
      if (entry.op === 'create' && entry.attempts === 0) {
        // Its key is about to go out: noted first, so that if this worker dies before it records
        // anything, a later change of the record still finds this create attempted and sends it
        // again with this key (priorCreates) rather than a create of its own — a second record.
        // A re-create too (it may go out in place instead; wentInPlace tells the two apart then).
        await this.platform.outbox.update(entry.id, { state: 'pending', attempts: 1 }, this.platform.clock.now().toISOString());
      }
      return await this.push(adapter, connection, entry, record);
    } catch (error) {
      return this.onFailure(entry, record, error);
    }
  }

  /** The record moved on: a later change has its own entry, which pushes everything since the base. */
  private async supersede(entry: OutboxEntry): Promise<PushOutcome> {
    // Its attempts stay as they are: none means this entry's key never went out (priorCreates).
    await this.finish(entry, 'done', 'Superseded by a later change of the record.', entry.attempts);
    return 'superseded';
  }

  /**
   * Created and deleted before its create was pushed: the provider never had it, so closing the
   * delete is clearing its pending push. Like every record write of the push path, only on the
   * revision read (RecordStore): whatever got in between — a resolution of the create's parked
   * conflict deleting again under a new entry, a second delivery of this message — is read again,
   * never written over. A record that then names another entry (or none, at a later version) has
   * moved on; one at this entry's version with nothing pending was closed by another delivery.
   */
  private async closeNeverPushed(entry: OutboxEntry, first: RevisedRecord): Promise<PushOutcome> {
    let read: RevisedRecord | undefined = first;
    for (let attempt = 1; ; attempt += 1) {
      const record = read?.record;
      if (record?.pendingPush?.outboxId !== entry.id) {
        if (record && record.pendingPush == null && record.version === entry.version) break; // another delivery closed it
        return this.supersede(entry);
      }
      try {
        await this.platform.records.write([{ ...record, pendingPush: null, ifRevision: read!.revision }]);
        break;
      } catch (error) {
        if (!isSyncBridgeError(error, 'conflict')) throw error;
        if (attempt >= AGREE_ATTEMPTS) {
          throw new SyncBridgeError('transient', `The record of ${entry.id} changed during each of ${attempt} attempts to close its delete: ${error.message}`, { cause: error });
        }
      }
      read = await this.platform.records.getWithRevision(record, entry.externalId);
    }
    await this.finish(entry, 'done', null);
    return 'pushed';
  }

  private async push(adapter: ProviderAdapter, connection: Connection, entry: OutboxEntry, record: SyncRecord): Promise<PushOutcome> {
    if (!adapter.push) throw readOnly(connection, entry);
    if (entry.op === 'delete') return this.pushDelete(adapter, entry, record);
    if (isRecreate(entry)) {
      // A resolution kept a record the provider had deleted (ConflictResolver): it goes out as a
      // create, unless the provider has it after all — a 404 that was not its last word — which
      // is then updated in place rather than given a twin. The update sends what differs from the
      // provider's copy and records the agreement as an update (the record keeps its id).
      const remote = await readRemote(adapter, entry);
      if (remote && !remote.deleted) {
        try {
          // A key of its own: the create below, should this meet a 404, is another request.
          return await this.pushChecked(adapter, connection, { ...entry, op: 'update' }, { ...record, base: remote.data }, remote.updatedAt, `${entry.id}.in-place`);
        } catch (error) {
          if (!isGone(error)) throw error; // deleted between the read and the update: a create after all
        }
      }
      return this.pushChecked(adapter, connection, entry, record, null);
    }
    // The remote's update time once it was read and found equal to the base: a fresher If-Match.
    let checked: string | null = null;
    if (entry.op === 'update' && record.base) {
      // If-Match on an update time has one-second resolution (and listings carry no ETag), so the
      // remote is read first: a change since the base goes through the merge, not over it.
      const remote = await readRemote(adapter, entry);
      if (!remote || remote.deleted || canonicalJson(remote.data) !== canonicalJson(record.base)) return this.mergeAndPush(adapter, connection, entry, record, remote);
      // The provider holds this very copy already (a resolution that kept its side rebased on a
      // copy a pull left partly unknown): agreed, with no update of nothing sent.
      if (canonicalJson(remote.data) === canonicalJson(record.data)) {
        await this.agree(entry, record, remote);
        return 'merged';
      }
      checked = remote.updatedAt;
    }
    return this.pushChecked(adapter, connection, entry, record, checked);
  }

  /**
   * The creates a temporary record went through before this entry (priorCreate, a chain), read once:
   *
   * - `unusable`: one parked because the provider accepted it with an answer that could not be used
   *   (pushFailure.ts: a create's only `data_mismatch`), its conflict still open. Its key would
   *   replay that answer, and a create under a new key could make a second record.
   * - `lostCreate`: the oldest whose key may have gone out: one still pending (maybe in flight, or
   *   waiting for a retry after a lost answer), or closed after at least one attempt, or ever
   *   replayed (a replay counts its attempts from 0 again, but a dead letter's key went out before
   *   it died). Not one superseded before any attempt, nor one the provider refused (parked: its
   *   key replays the refusal). The oldest, because a later create sends its own key only when none
   *   before it may have gone out; and one that sends an earlier key marks that entry as attempted
   *   (replayCreate), so this stays true after it closes.
   */
  private async priorCreates(entry: OutboxEntry): Promise<{ unusable: OutboxEntry | null; lostCreate: OutboxEntry | null }> {
    let unusable: OutboxEntry | null = null;
    let lostCreate: OutboxEntry | null = null;
    for (let id = entry.priorCreate; id; ) {
      const prior = await this.platform.outbox.get(id);
      if (!prior) break;
      if (prior.state === 'parked') {
        if (!unusable && prior.op === 'create') {
          const conflict = await this.platform.conflicts.get(prior.tenantId, conflictIdFor(prior));
          // A re-create parked with the provider's copy beside it went out in place and met a
          // change there (a merge left fields to a person): its record is at its own id, not lost.
          const inPlace = isRecreate(prior) && conflict?.remote != null;
          if (conflict?.state === 'open' && conflict.kind === 'data_mismatch' && !inPlace) unusable = prior;
        }
      } else if (prior.data && (prior.state === 'pending' || prior.attempts > 0 || (prior.replays ?? 0) > 0)) {
        lostCreate = prior;
      }
      id = prior.priorCreate;
    }
    return { unusable, lostCreate };
  }

  /**
   * A re-create whose record the provider still holds under its id: it went out (if at all) as an
   * update in place, under a key of its own (push), so its create key may never have been sent and
   * replaying it could make a second record. The later change, itself a re-create (or a delete),
   * goes out as its own push: in place, with everything since.
   */
  private async wentInPlace(adapter: ProviderAdapter, create: OutboxEntry): Promise<boolean> {
    if (!isRecreate(create)) return false;
    const remote = await readRemote(adapter, create);
    return remote !== null && !remote.deleted;
  }

  /**
   * A create that may have reached the provider, its answer lost, and a later change of the record
   * (`entry`): the create goes out again with its own key and data, so the provider answers with
   * what it did then (or creates the record now if it never arrived) instead of a second record.
   * The record then moves to the provider's id as after that create (recordAgreement), and what
   * `entry` changed since — fields, or a delete — is carried onto it as a change of its own
   * (LocalChangeService.carryOver), pushed by its own entry. `entry` is done.
   */
  private async replayCreate(adapter: ProviderAdapter, connection: Connection, entry: OutboxEntry, create: OutboxEntry, record: SyncRecord): Promise<PushOutcome> {
    if (!adapter.push) throw readOnly(connection, create);
    if (create.attempts === 0) {
      // Its key goes out now: a later entry of the record must find it attempted even once it closes.
      await this.platform.outbox.update(create.id, { state: create.state, attempts: 1 }, this.platform.clock.now().toISOString());
    }
    const result = await adapter.push({ entity: create.entity, op: 'create', externalId: null, data: create.data!, idempotencyKey: create.id });
    await this.agree(entry, { ...record, data: create.data!, version: create.version }, result.record, create);
    return 'pushed';
  }

  /** The first push of an entry; a 412 (the remote moved since `checked` or the base) goes to the merge. */
  private async pushChecked(adapter: ProviderAdapter, connection: Connection, entry: OutboxEntry, record: SyncRecord, checked: string | null, idempotencyKey?: string): Promise<PushOutcome> {
    try {
      const result = await adapter.push!(pushRequestFor(entry, record, checked, idempotencyKey));
      await this.agree(entry, record, result.record);
      return 'pushed';
    } catch (error) {
      if (!isPreconditionFailed(error)) throw error;
    }
    return this.mergeAndPush(adapter, connection, entry, record, await readRemote(adapter, entry));
  }

  /**
   * A local delete removes the provider's copy only if nobody changed it since the base: a
   * record edited there and deleted here is a data_mismatch for a person. Already gone is done.
   */
  private async pushDelete(adapter: ProviderAdapter, entry: OutboxEntry, record: SyncRecord): Promise<PushOutcome> {
    const remote = await readRemote(adapter, entry);
    if (remote && !remote.deleted && record.base && canonicalJson(remote.data) !== canonicalJson(record.base)) {
      await this.park(entry, record, 'data_mismatch', 'The provider changed the record after it was deleted here.', remote.data);
      return 'parked';
    }
    if (remote && !remote.deleted) {
      try {
        await adapter.push!(pushRequestFor(entry, record, remote.updatedAt));
      } catch (error) {
        if (!isGone(error)) throw error;
      }
    }
    await this.agree(entry, record, null);
    return 'pushed';
  }

  /** The remote changed since the base: three-way merge, then push the merged fields. */
  private async mergeAndPush(adapter: ProviderAdapter, connection: Connection, entry: OutboxEntry, record: SyncRecord, remote: ProviderRecord | null): Promise<PushOutcome> {
    if (!remote || remote.deleted) {
      await this.park(entry, record, 'data_mismatch', 'The provider deleted the record while it had a local change.', null);
      return 'parked';
    }
    const merge = threeWayMerge(
      {
        entity: entry.entity,
        base: record.base ?? null,
        local: { data: record.data, clock: record.fieldClock ?? undefined, updatedAt: record.lastModifiedAt, origin: LOCAL_ORIGIN },
        remote: { data: remote.data, updatedAt: remote.updatedAt, origin: connection.provider },
        policy: policyOf(connection, entry.entity),
      },
      this.rules,
    );
    if (merge.manualFields.length > 0) {
      await this.park(entry, record, 'data_mismatch', `Fields changed on both sides need a decision: ${merge.manualFields.join(', ')}.`, remote.data, { fields: merge.manualFields });
      return 'parked';
    }
    if (!merge.pushNeeded) {
      await this.agree(entry, record, remote);
      return 'merged';
    }
    const changed = changedFields(remote.data, merge.merged);
    const result = await adapter.push!({
      entity: entry.entity,
      op: 'update',
      externalId: entry.externalId,
      data: pick(merge.merged, changed),
      // A merged push has other content than the first attempt, so it needs a key of its own.
      idempotencyKey: `${entry.id}.m${hash('sha256', canonicalJson(remote.data), 'hex').slice(0, 12)}`,
      ifMatch: remote.updatedAt ?? undefined,
    });
    await this.agree(entry, record, result.record);
    return 'merged';
  }

  /**
   * After the provider accepted the change: the record's base is what the provider now holds. What
   * else happened to the record while the push was in flight decides the rest (recordAgreement):
   * a newer local change is carried onto the provider's copy; a pull or webhook merge is not a
   * local change and is never carried over as one.
   *
   * The record is read and written in separate round trips on Cosmos DB, so the write is a
   * compare-and-set on the revision read (RecordStore): a local change committed in between fails
   * it, and the decision is taken again on a fresh read — which then sees that change as newer.
   * Losing AGREE_ATTEMPTS times in a row fails the push as transient, so it is retried (the
   * provider answers the repeated Idempotency-Key with its first result), never dropped.
   * `pushedAs`: the entry whose push this was, when `entry` sent an earlier create (replayCreate).
   */
  private async agree(entry: OutboxEntry, pushed: SyncRecord, remote: ProviderRecord | null, pushedAs: OutboxEntry = entry): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.recordAgreement(pushedAs, pushed, remote);
        break;
      } catch (error) {
        if (!isSyncBridgeError(error, 'conflict')) throw error;
        if (attempt >= AGREE_ATTEMPTS) {
          throw new SyncBridgeError('transient', `The record of ${entry.id} changed during each of ${attempt} attempts to record the push's result: ${error.message}`, { cause: error });
        }
      }
    }
    await this.finish(entry, 'done', null);
  }

  /**
   * One attempt of `agree`: read the record, write what the push settled only if nobody wrote since.
   * The record as read is one of:
   * - unchanged since the push began: it becomes the provider's copy, agreed (no base, nothing pending);
   * - changed by a newer LOCAL change, which has a pending push of its own: that change is carried
   *   onto the provider's copy and based on it (a create moves with it to the provider's id, or
   *   onto what a webhook or pull stored there first: moveCreate);
   * - changed by a pull or webhook that settled this push (it read the change back from the
   *   provider): already agreed on a provider copy at least as new as the push's answer; kept as is;
   * - changed by a pull or webhook that merged into it and left this push pending (a page read
   *   before the push landed, or a provider change made after it): which provider copy is newer
   *   is not knowable here (update times have one-second resolution), so what the merge left
   *   goes out again under a new entry, whose worker compares it with the provider's copy of that
   *   moment — settled when the provider has it all, pushed or parked otherwise.
   * A version check cannot tell these apart (a merge bumps the version too); the pending push can.
   */
  private async recordAgreement(entry: OutboxEntry, pushed: SyncRecord, remote: ProviderRecord | null): Promise<void> {
    const read = await this.platform.records.getWithRevision(pushed, pushed.externalId);
    const current = read?.record ?? pushed;
    const ifRevision = read?.revision ?? null;
    const changed = current.version !== pushed.version;
    const newerLocal = changed && current.pendingPush != null && current.pendingPush.outboxId !== entry.id;
    if (entry.op === 'create' && remote) {
      await this.moveCreate(entry, pushed, remote, read, newerLocal);
    } else if (!changed) {
      const data = remote ? remote.data : current.data;
      await this.platform.records.write([
        { ...current, data, hash: contentHash(data), rawHash: null, sourceUpdatedAt: remote?.updatedAt ?? current.sourceUpdatedAt, base: null, pendingPush: null, lastStepId: `push:${entry.id}`, ifRevision },
      ]);
    } else if (newerLocal) {
      if (!remote) return;
      // A newer local change waits for its own push (its entry reads the record when it runs): it
      // is now the provider's copy plus the fields that change touched, based on the provider's copy.
      const rebased = current.deleted ? current.data : applyChanges(remote.data, pushed.data, current.data).data;
      await this.platform.records.write([{ ...current, data: rebased, hash: contentHash(rebased), rawHash: null, base: remote.data, sourceUpdatedAt: remote.updatedAt, ifRevision }]);
    } else if (current.pendingPush?.outboxId === entry.id && read) {
      // Merged by a pull or webhook and still pending on this entry, which is about to close.
      await this.changes.resend(current, read.revision);
    }
    // Otherwise a pull or webhook settled the push: the record is agreed already; nothing to write.
  }

  /**
   * The provider assigned the id of a pushed create: the record moves to it and the temporary one
   * becomes a tombstone (conditional on the revision read). The provider announces the new record
   * too, and a webhook or pull may have stored it at that id first — where the records API shows it
   * and a user may already have changed it. So the new id is read, and:
   * - nothing there: the record moves, written create-only (`ifRevision: null`);
   * - a live record there: it is kept as stored (a provider copy at least as new as the push's
   *   answer, and any local change made to it, with its pending push); the temporary id is only
   *   retired;
   * - a tombstone there (the provider deleted the record already): kept too, unless a local edit
   *   waits on the temporary id — that one moves over it (on its revision), so that its push meets
   *   the provider's delete and is parked for a person instead of vanishing with the temporary id.
   * A newer local change of the temporary record (`newerLocal`) is carried onto whichever record
   * the new id holds, in the same transaction as the tombstone; its own entry names the temporary
   * id, finds the tombstone and closes as superseded. Any write here that loses a race (a record
   * stored at the new id since it was read, a change of either record) fails with `conflict`, and
   * agree() reads both again and decides again.
   *
   * Either way the two ids are linked, in the same write: the tombstone says where the record went
   * (`movedTo`), and the record at the new id which ids it was stored under before (`previousIds`),
   * so that an API client holding the temporary id can find it. A record kept as stored gains the
   * link with its content, version and step stamp as they were (the link changes no content: a pull
   * step replayed later still finds its own stamp, and a push in flight on it is not disturbed).
   */
  private async moveCreate(entry: OutboxEntry, pushed: SyncRecord, remote: ProviderRecord, read: RevisedRecord | undefined, newerLocal: boolean): Promise<void> {
    const now = this.platform.clock.now().toISOString();
    const current = read?.record ?? pushed;
    const tombstone: RecordWrite = { ...current, version: current.version + 1, deleted: true, deletedAt: now, lastModifiedAt: now, lastAction: 'deleted', pendingPush: null, lastStepId: `push:${entry.id}`, movedTo: remote.externalId, ifRevision: read?.revision ?? null };
    const previousIds = linkedIds(current);
    const target = await this.platform.records.getWithRevision(current, remote.externalId);
    if (target) {
      const stored: SyncRecord = { ...target.record, previousIds: mergedIds(target.record.previousIds, previousIds) };
      // Nothing to carry over; a delete made in flight of a record the provider deleted already; or
      // a local delete of the new id waiting for its push (made through the records API once a
      // webhook or pull stored it): deleting is the latest word there, and an edit of the
      // temporary record must not bring the record back over it.
      if (!newerLocal || (stored.deleted && (current.deleted || stored.pendingPush))) {
        await this.platform.records.write([{ ...stored, lastModifiedAt: now, ifRevision: target.revision }, tombstone]);
        return;
      }
      if (!stored.deleted) {
        await this.changes.carryOver(stored, current, pushed.data, [tombstone], target.revision);
        return;
      }
      // A tombstone, and a local edit waiting: the edit moves over it (below, on its revision).
    }
    const moved: SyncRecord = {
      ...current,
      id: recordId(current.tenantId, current.connectionId, current.entity, remote.externalId),
      externalId: remote.externalId,
      data: remote.data,
      hash: contentHash(remote.data),
      rawHash: null,
      version: target ? target.record.version + 1 : 1,
      deleted: false,
      deletedAt: null,
      lastModifiedAt: now,
      lastAction: 'added',
      firstSeenAt: target?.record.firstSeenAt ?? now,
      sourceUpdatedAt: remote.updatedAt,
      lastStepId: `push:${entry.id}`,
      base: null,
      pendingPush: null,
      movedTo: null,
      previousIds: target ? mergedIds(target.record.previousIds, previousIds) : previousIds,
    };
    const ifRevision = target?.revision ?? null;
    if (newerLocal) await this.changes.carryOver(moved, current, pushed.data, [tombstone], ifRevision);
    else await this.platform.records.write([{ ...moved, ifRevision }, tombstone]);
  }

  /** What classifyPushFailure decides: a scheduled retry, a parked conflict, or a dead letter. */
  private async onFailure(entry: OutboxEntry, record: SyncRecord, error: unknown): Promise<PushOutcome> {
    if (isSyncBridgeError(error, 'auth_failed')) {
      // The 401 that parked the connection (its refresh met invalid_grant, or a client refusal)
      // reaches the push that met it as auth_failed: held like the pushes that come after it.
      const connection = await this.platform.connections.get(entry.connectionId);
      if (connection && holdsPushes(connection)) return this.hold(entry, connection);
    }
    const failure = classifyPushFailure(error, entry.op);
    if (failure.action === 'retry') return this.retryLater(entry, record, error, failure.exhausted);
    if (failure.action === 'park') {
      // A refused value concerns the fields this change touched; a record gone there, all it differs in.
      await this.park(entry, record, failure.kind, failure.reason, null, { fields: failure.kind === 'data_mismatch' ? undefined : entry.changedFields });
      return 'parked';
    }
    await this.park(entry, record, failure.kind, failure.reason, null, { reasonCode: failure.reasonCode });
    return 'dead';
  }

  /**
   * Schedules the next attempt (backoff, or the provider's Retry-After when later); once they run
   * out, a retry_exhausted dead letter whose reason code is `exhausted` (classifyPushFailure).
   */
  private async retryLater(entry: OutboxEntry, record: SyncRecord, error: unknown, exhausted: DeadLetterReason): Promise<PushOutcome> {
    const reason = failureText(error);
    const attempts = entry.attempts + 1;
    if (attempts >= this.retry.maxAttempts) {
      const what = exhausted === 'internal_error' ? `A fault in SyncBridge, not the provider's, failed each of ${attempts} attempts` : `Retries exhausted after ${attempts} attempts`;
      await this.park(entry, record, 'retry_exhausted', `${what}: ${reason}`, null, { attempts, reasonCode: exhausted });
      return 'dead';
    }
    const delay = backoffDelayMs(attempts, this.retry, this.options.random);
    const now = this.platform.clock.now().getTime();
    const retryAt = isSyncBridgeError(error) ? error.retryAt?.getTime() : undefined;
    const at = new Date(Math.max(now + delay, retryAt ?? 0));
    // The broker drops a repeated id within its duplicate-detection window, so the id names what
    // this message is: the replay (which restarts the attempt count), the attempt, and its due time.
    // Without the time, an attempt run again after its note failed to be written (the first message
    // sent, the broker redelivering the original) would send a message the broker drops, and note a
    // due time that no message carries: the first one, not naming it, would be skipped as stale.
    const messageId = `${entry.id}${entry.replays ? `.p${entry.replays}` : ''}.r${attempts}.${at.getTime().toString(36)}`;
    // The message first, then the entry's note of when it is due (which keeps the relay and any
    // older message from pushing before then). The other order has a window: a failed send after
    // the note leaves the broker redelivering the message of this attempt, which the note makes
    // the worker skip, and nothing queued until the relay. In this order a failed send redelivers
    // this attempt's message, which runs again; a crash after the send leaves the note at the
    // previous due time, already past, so the scheduled message is not skipped.
    await this.platform.queue.send(QUEUES.outbound, outboundMessage(entry, { messageId, at }));
    await this.platform.outbox.update(entry.id, { state: 'pending', attempts, lastError: reason, nextAttemptAt: at.toISOString() }, new Date(now).toISOString());
    return 'retry_scheduled';
  }

  /**
   * Holds the entry while its connection waits for a person: it stays pending, its attempts (and
   * so its retry budget) untouched, `lastError` saying what it waits for. A scheduled message
   * checks again after `heldRecheckMs` — one message per held entry per interval, no provider
   * call — and pushes once the connection is active again; still parked, it holds again. The
   * message has an id of its own per check (the broker drops a repeated id for ten minutes, so a
   * re-send under the entry id, as the relay's, could be dropped) and names its due time, which
   * `nextAttemptAt` then notes: the relay leaves the entry alone until then, and a stray older
   * message is skipped. Message first, then the note, as in retryLater.
   */
  private async hold(entry: OutboxEntry, connection: Connection): Promise<PushOutcome> {
    const now = this.platform.clock.now().getTime();
    const at = new Date(now + this.heldRecheckMs);
    await this.platform.queue.send(QUEUES.outbound, outboundMessage(entry, { messageId: `${entry.id}.held${at.getTime()}`, at }));
    await this.platform.outbox.update(entry.id, { state: 'pending', lastError: heldReason(connection), nextAttemptAt: at.toISOString() }, new Date(now).toISOString());
    this.platform.telemetry.metric('PushesHeld', 1, { connectionId: entry.connectionId, status: connection.status });
    return 'held';
  }

  /**
   * Parks the entry and opens its conflict. Data conflicts wait for a resolution (state parked);
   * auth and exhausted retries are dead letters (state dead) that a replay sends again, and say
   * what failed (`reasonCode`).
   */
  private async park(entry: OutboxEntry, record: SyncRecord, kind: ConflictKind, reason: string, remote: JsonObject | null, options: ParkOptions = {}): Promise<void> {
    const { fields, attempts, reasonCode } = options;
    const dead = kind === 'auth_error' || kind === 'retry_exhausted';
    const now = this.platform.clock.now().toISOString();
    const base = record.base ?? null;
    const local = entry.op === 'delete' ? null : record.data;
    await this.platform.conflicts.open({
      id: conflictIdFor(entry),
      tenantId: entry.tenantId,
      connectionId: entry.connectionId,
      entity: entry.entity,
      externalId: entry.externalId,
      outboxId: entry.id,
      kind,
      state: 'open',
      reason,
      ...(reasonCode ? { reasonCode } : {}),
      base,
      local,
      remote,
      fields: fields && fields.length > 0 ? fields : differingFields(base, local ?? {}, remote ?? base ?? {}),
      createdAt: now,
      updatedAt: now,
    });
    this.platform.telemetry.metric('ConflictsOpened', 1, { connectionId: entry.connectionId, entity: entry.entity, kind });
    await this.finish(entry, dead ? 'dead' : 'parked', reason, attempts);
  }

  private async finish(entry: OutboxEntry, state: OutboxEntry['state'], lastError: string | null, attempts?: number): Promise<void> {
    await this.platform.outbox.update(entry.id, { state, lastError, attempts: attempts ?? entry.attempts + 1 }, this.platform.clock.now().toISOString());
  }

  private adapterFor(connection: Connection): Promise<ProviderAdapter> {
    return adapterFor(this.platform, this.adapters, connection);
  }
}

interface ParkOptions {
  /** The fields in question; default: where base, local and the remote copy differ. */
  fields?: string[];
  /** The entry's attempts when it closes; default one more than it had. */
  attempts?: number;
  /** A dead letter's: what failed (Conflict.reasonCode). */
  reasonCode?: DeadLetterReason;
}

/** The ids a record moving away from `record` was stored under: its own earlier ones, then its current one. */
function linkedIds(record: SyncRecord): string[] {
  return [...(record.previousIds ?? []), record.externalId];
}

/** `stored` ids followed by those of `added` it lacks, order kept (a move recorded twice links once). */
function mergedIds(stored: readonly string[] | null | undefined, added: readonly string[]): string[] {
  const ids = [...(stored ?? [])];
  for (const id of added) if (!ids.includes(id)) ids.push(id);
  return ids;
}

/** The connection syncs an entity both ways on a provider that takes no pushes: a setup fault, not the provider's. */
function readOnly(connection: Connection, entry: Pick<OutboxEntry, 'entity'>): SyncBridgeError {
  return new SyncBridgeError('configuration', `Provider ${connection.provider} is read-only: it takes no pushes, yet connection ${connection.id} pushes ${entry.entity} to it.`);
}

/** One conflict per parked entry and replay, so that a redelivered push parks once. */
export function conflictIdFor(entry: Pick<OutboxEntry, 'id' | 'replays'>): string {
  return `cfl_${entry.id.replace(/^out_/, '')}${entry.replays ? `_r${entry.replays}` : ''}`;
}

/**
 * The provider's copy of the entry's record, or null when it has none. A provider may say so with
 * 410 Gone as well as 404 (adapters map 404 themselves): either way the record is gone, which a
 * delete takes as done and an update as the provider's delete — never as a failed push.
 */
async function readRemote(adapter: ProviderAdapter, entry: Pick<OutboxEntry, 'entity' | 'externalId'>): Promise<ProviderRecord | null> {
  try {
    return await adapter.getRecord(entry.entity, entry.externalId);
  } catch (error) {
    if (isGone(error)) return null;
    throw error;
  }
}

/**
 * A create of a record that already has a provider id: a conflict resolution keeping a record the
 * provider deleted (ConflictResolver). A local create's id is temporary (`local-…`).
 */
function isRecreate(entry: OutboxEntry): boolean {
  return entry.op === 'create' && !entry.externalId.startsWith(LOCAL_ID_PREFIX);
}

function policyOf(connection: Connection, entity: string): EntityMergePolicy {
  const policies = connection.config.mergePolicy as Record<string, EntityMergePolicy> | undefined;
  return policies?.[entity] ?? DEFAULT_POLICY;
}

/** Top-level fields whose values differ; a field only in `from` is sent as null (PATCH cannot remove). */
function changedFields(from: JsonObject, to: JsonObject): string[] {
  const fields = new Set([...Object.keys(from), ...Object.keys(to)]);
  return [...fields].filter((f) => canonicalJson(from[f]) !== canonicalJson(to[f]));
}

function pick(data: JsonObject, fields: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const field of fields) setField(out, field, ownField(data, field) ?? null);
  return out;
}

/** The first push of an entry: everything that differs from the base, keyed by the entry id. */
/** `idempotencyKey`: the entry id, unless one entry sends two different requests (a re-create's in-place update). */
function pushRequestFor(entry: OutboxEntry, record: SyncRecord, checkedUpdatedAt: string | null = null, idempotencyKey = entry.id): PushRequest {
  const ifMatch = checkedUpdatedAt ?? record.sourceUpdatedAt ?? undefined;
  if (entry.op === 'create') return { entity: entry.entity, op: 'create', externalId: null, data: record.data, idempotencyKey };
  if (entry.op === 'delete') return { entity: entry.entity, op: 'delete', externalId: entry.externalId, data: null, idempotencyKey, ifMatch };
  const base = record.base ?? {};
  return { entity: entry.entity, op: 'update', externalId: entry.externalId, data: pick(record.data, changedFields(base, record.data)), idempotencyKey, ifMatch };
}
