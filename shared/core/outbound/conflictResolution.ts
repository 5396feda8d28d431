import { randomUUID } from 'node:crypto';
import { isSyncBridgeError, SyncBridgeError } from '../errors';
import { canonicalJson, contentHash } from '../hash';
import { ownField, setField } from '../jsonFields';
import type { JsonObject, SyncRecord } from '../model';
import { threeWayMerge, type MergeSide } from '../merge';
import type { Conflict } from '../../ports/conflictStore';
import type { Platform } from '../../ports/platform';
import { QUEUES } from '../../ports/queue';
import { outboundMessage, type LocalChangeService } from './localChanges';
import { conflictIdFor } from './outboundService';

/**
 * How long a resolution holds its conflict: far longer than one takes (a record read and write,
 * then the conflict's), so only a resolver that died leaves a claim to expire.
 */
export const RESOLVE_CLAIM_MS = 60_000;
/** Tries of the last step (marking the conflict resolved), 100 ms apart and growing: ~0.6 s in all, far inside the claim. */
const MARK_RESOLVED_ATTEMPTS = 4;
const MARK_RESOLVED_DELAY_MS = 100;

export interface ResolveRequest {
  resolution: 'local' | 'remote' | 'custom';
  /** For `custom`: the fields to set on top of the local record. */
  data?: JsonObject;
}

/**
 * Settles parked conflicts and replays dead letters. A resolution that keeps local data becomes a
 * new local change (record + outbox entry in one transaction), based on the newest copy of the
 * provider's record known here (latestRemote: the conflict's, or one a pull merged since), so the
 * push sends exactly what differs from the provider's copy. When the
 * provider had deleted the record, keeping local data is a create instead (the record gets a new
 * id there; LocalChangeService.recreate), and `remote` accepts the deletion. The record is written
 * only if it is unchanged since the resolution read it (RecordWrite.ifRevision): a local change or
 * a push recorded in between answers `conflict`, for the person to look again.
 *
 * Two resolutions of one conflict at once: each first claims the conflict (ConflictStore.claim, a
 * compare-and-set), and only the claimant reads and writes the record; the other answers
 * `conflict` having written nothing. A resolver that fails releases its claim; one that died
 * leaves it to expire after RESOLVE_CLAIM_MS.
 */
export class ConflictResolver {
  constructor(
    private readonly platform: Platform,
    private readonly changes: LocalChangeService,
  ) {}

  async resolve(tenantId: string, id: string, request: ResolveRequest): Promise<{ conflict: Conflict; record: SyncRecord | null }> {
    const seen = await this.platform.conflicts.get(tenantId, id);
    if (!seen) throw new SyncBridgeError('not_found', `There is no conflict ${id}.`);
    if (seen.state !== 'open') throw new SyncBridgeError('conflict', `Conflict ${id} is ${seen.state} already; only open conflicts can be resolved.`);
    if (seen.kind === 'auth_error' || seen.kind === 'retry_exhausted') {
      throw new SyncBridgeError('validation', `Conflict ${id} is a ${seen.kind}: replay it with POST /api/deadletters/${seen.outboxId}/replay.`);
    }
    if (request.resolution === 'custom' && (request.data === undefined || Object.keys(request.data).length === 0)) {
      throw new SyncBridgeError('validation', 'A custom resolution needs "data": the fields to set.');
    }
    // Only the claimant goes on to write: the record's revision check alone lets a second resolver
    // through that read the conflict open before the first resolved it and the record after the
    // first wrote it; it would then write and push its own decision and only then be refused.
    const now = this.platform.clock.now();
    const claim = { by: randomUUID(), until: new Date(now.getTime() + RESOLVE_CLAIM_MS).toISOString() };
    const conflict = await this.platform.conflicts.claim(tenantId, id, claim, now.toISOString());
    let record: SyncRecord | null;
    try {
      record = await this.apply(conflict, request);
    } catch (error) {
      // Nothing written (a refusal, or the record changed meanwhile): the next resolver need not wait for the claim to expire.
      await this.platform.conflicts.release(tenantId, id, claim.by).catch(() => undefined);
      throw error;
    }
    const resolved = await this.markResolved(tenantId, id, request.resolution, claim.by, claim.until);
    return { conflict: resolved, record };
  }

  /**
   * The last step, once the record (and its push) is written: the decision is stored, so a store
   * failure here is tried again (MARK_RESOLVED_ATTEMPTS, while the claim holds) rather than
   * answered at once, which would leave the conflict open with the decision already made. Refused
   * (`conflict`) only if this resolution outlived its claim and another took the conflict over.
   */
  private async markResolved(tenantId: string, id: string, resolution: ResolveRequest['resolution'], by: string, until: string): Promise<Conflict> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.platform.conflicts.resolve(tenantId, id, resolution, this.now(), { claimedBy: by });
      } catch (error) {
        if (isSyncBridgeError(error, 'conflict') && attempt > 1) {
          // An earlier try that failed may have been stored all the same (its answer lost): the
          // claim kept everyone else out meanwhile, so a conflict resolved as this one is this one's.
          const now = await this.platform.conflicts.get(tenantId, id);
          if (now?.state === 'resolved' && now.resolution === resolution) return now;
        }
        if (isSyncBridgeError(error, 'conflict') || isSyncBridgeError(error, 'not_found')) throw error;
        if (attempt >= MARK_RESOLVED_ATTEMPTS) {
          throw new SyncBridgeError(
            'transient',
            `Conflict ${id}: the "${resolution}" decision is stored (the record is written and any push queued), but marking the conflict resolved failed ${attempt} times: ${(error as Error).message} It stays open, claimed until ${until}; a resolution after that starts from the record as this one left it.`,
            { cause: error },
          );
        }
        await new Promise((done) => setTimeout(done, MARK_RESOLVED_DELAY_MS * attempt));
      }
    }
  }

  /** Writes the record (and its push) as `request` settles `conflict`; the caller holds the claim. */
  private async apply(conflict: Conflict, request: ResolveRequest): Promise<SyncRecord | null> {
    const { tenantId, id } = conflict;
    const scope = { tenantId, connectionId: conflict.connectionId, entity: conflict.entity };
    const read = await this.platform.records.getWithRevision(scope, conflict.externalId);
    if (!read) throw new SyncBridgeError('not_found', `The record ${conflict.externalId} of conflict ${id} no longer exists.`);
    const { record: current, revision } = read;
    // A data mismatch with no remote copy: the provider deleted the record while it had a local change.
    const remoteDeleted = conflict.kind === 'data_mismatch' && conflict.remote === null;
    const { remote, whole } = latestRemote(conflict, current);
    const base = current.base ?? conflict.base ?? null;
    let record: SyncRecord | null;
    if (request.resolution === 'remote' && remoteDeleted) {
      // Keeping the provider's side of a deletion: deleted here too, nothing to push.
      const now = this.now();
      record = { ...current, version: current.version + 1, deleted: true, deletedAt: now, lastModifiedAt: now, lastAction: 'deleted', base: null, pendingPush: null };
      await this.platform.records.write([{ ...record, ifRevision: revision }]);
    } else if (request.resolution === 'remote') {
      if (!remote) throw new SyncBridgeError('validation', `Conflict ${id} has no remote version to keep; resolve it as "local" or "custom".`);
      // The provider's values win the fields in conflict; what only this side changed still goes
      // out. Keeping the provider's copy also undoes a local delete.
      const data = current.deleted ? remote : mergeFields(base, current.data, remote, 'remote');
      record = await this.settle(current, data, { remote, whole }, revision);
    } else if (remoteDeleted) {
      // Such a conflict's local side is always an edit (a local delete of a record gone there is
      // simply done): a record deleted here now was deleted after the conflict opened, and keeping
      // "this side" would bring back what the user has since deleted.
      if (current.deleted) throw new SyncBridgeError('conflict', `The record of conflict ${id} was deleted here after the conflict opened; there is no local version to keep. Resolve it as "remote".`);
      // Keeping this side's version of a record the provider deleted: it cannot be updated back to
      // life there, so it is created again with the chosen data (and moves to the new id once pushed).
      const data = request.resolution === 'custom' ? { ...current.data, ...request.data } : current.data;
      record = await this.changes.recreate(current, data, revision);
    } else if (current.deleted) {
      if (request.resolution === 'custom') throw new SyncBridgeError('validation', `The record of conflict ${id} was deleted here: resolve it as "local" (delete there too) or "remote" (keep it).`);
      record = await this.changes.redelete(current, remote, revision);
    } else {
      // This side's values win the fields in conflict; what only the provider changed stays.
      const merged = remote ? mergeFields(base, current.data, remote, 'local') : current.data;
      const data = request.resolution === 'custom' ? { ...merged, ...request.data } : merged;
      record = await this.settle(current, data, { remote, whole }, revision);
    }
    return record;
  }

  /**
   * Writes `data`, the resolution's outcome: agreed, with nothing to push, when the provider holds
   * it already; else a local change based on `remote`, which the outbound worker pushes. Agreed
   * only on a copy known whole: on one a pull left partly unknown (latestRemote), the worker's read
   * of the provider settles the rest, and a value changed there since wins, as a change made only
   * there does in any merge.
   */
  private async settle(current: SyncRecord, data: JsonObject, { remote, whole }: LatestRemote, revision: string): Promise<SyncRecord> {
    if (!remote || !whole || canonicalJson(data) !== canonicalJson(remote)) return this.changes.rebase(current, data, remote, revision);
    const record: SyncRecord = { ...current, data: remote, hash: contentHash(remote), rawHash: null, version: current.version + 1, lastModifiedAt: this.now(), lastAction: 'updated', deleted: false, deletedAt: null, base: null, pendingPush: null };
    await this.platform.records.write([{ ...record, ifRevision: revision }]);
    return record;
  }

  /** Sends a dead outbox entry again, from a fresh retry budget; its open conflicts close as replayed. */
  async replay(tenantId: string, outboxId: string): Promise<{ outboxId: string; replays: number }> {
    const entry = await this.platform.outbox.get(outboxId);
    if (!entry || entry.tenantId !== tenantId) throw new SyncBridgeError('not_found', `There is no dead letter ${outboxId}.`);
    if (entry.state !== 'dead') throw new SyncBridgeError('conflict', `Outbox entry ${outboxId} is ${entry.state}, not dead: only dead letters can be replayed.`);
    const replays = (entry.replays ?? 0) + 1;
    // The dead letter's conflict has an id derived from the entry and its replay count.
    const conflict = await this.platform.conflicts.get(tenantId, conflictIdFor(entry));
    if (conflict?.state === 'open') await this.platform.conflicts.resolve(tenantId, conflict.id, 'replayed', this.now());
    // Sent at once: a retry time left from before the entry died no longer holds.
    await this.platform.outbox.update(outboxId, { state: 'pending', attempts: 0, replays, lastError: null, nextAttemptAt: null }, this.now());
    await this.platform.queue.send(QUEUES.outbound, outboundMessage(entry, { messageId: `${outboxId}.replay${replays}` }));
    return { outboxId, replays };
  }

  private now(): string {
    return this.platform.clock.now().toISOString();
  }
}

interface LatestRemote {
  remote: JsonObject | null;
  /** False when some of its values may be older than the provider's (see latestRemote). */
  whole: boolean;
}

/**
 * The newest copy of the provider's record known here, which a resolution settles against.
 *
 * The conflict keeps the copy the push read when it parked; pulls and webhooks go on merging into
 * the record meanwhile (mergePulled), and resolving on an older copy would write its values as
 * agreed, leaving local and the provider apart until a full sync. So:
 * - a record agreed since (a pull read the provider holding the local values) is that copy itself;
 * - a merge that left fields to a person moved the record's base to the provider's newer copy,
 *   except in those fields, whose newer values are kept nowhere: the base, with the conflict's
 *   values in the conflict's fields whose base has not moved since (one that moved holds a newer
 *   provider value, which stays). The provider may have changed those again, so the copy is not
 *   whole (settle pushes rather than agrees).
 * Not detectable: a newer copy that differs from the conflict's only in fields still left to a
 * person (and holds no update time among its fields) leaves the base as it was.
 */
function latestRemote(conflict: Conflict, current: SyncRecord): LatestRemote {
  if (!current.deleted && !current.pendingPush && !current.base) return { remote: current.data, whole: true };
  // Validation errors did not read the provider's copy: the base stands in.
  const saved = conflict.remote ?? current.base ?? null;
  if (!conflict.remote || !current.base || current.deleted) return { remote: saved, whole: true };
  // Nothing merged into the record since the push read the provider's copy.
  if (canonicalJson(current.base) === canonicalJson(conflict.base)) return { remote: conflict.remote, whole: true };
  const known: JsonObject = { ...current.base };
  for (const field of conflict.fields) {
    // A field whose base moved since the conflict holds a newer provider value than the conflict's
    // (a later merge found both sides agreeing on it): that one is kept.
    if (canonicalJson(ownField(current.base, field)) !== canonicalJson(ownField(conflict.base ?? null, field))) continue;
    if (Object.hasOwn(conflict.remote, field)) setField(known, field, conflict.remote[field]);
    else delete known[field];
  }
  // A pull that read the conflict's copy again.
  if (canonicalJson(known) === canonicalJson(conflict.remote)) return { remote: conflict.remote, whole: true };
  return { remote: known, whole: false };
}

/**
 * The three-way merge with `winner` owning every field changed on both sides: a field only one
 * side changed keeps that side's value.
 */
function mergeFields(base: JsonObject | null, local: JsonObject, remote: JsonObject, winner: MergeSide): JsonObject {
  return threeWayMerge({ entity: '', base, local: { data: local }, remote: { data: remote }, policy: { default: { kind: 'authority', owner: winner } } }).merged;
}
