import type { ProviderRecord } from '../adapters/adapter';
import { hash as sha } from 'node:crypto';
import { contentHash, contentHashFromJsonHash } from '../core/hash';
import { recordId } from '../core/ids';
import { clampHighWater, isFutureStamped } from '../core/runs/highWaterMark';
import { pulledIsStale } from '../core/webhookIntake/eventOrder';
import { emptyCounters, type IsoTime, type RecordScope, type RecordState, type RunCounters, type SyncMode, type SyncRecord } from '../core/model';
import { MAX_RECORD_BYTES, recordWriteBytes, type RecordStore, type RecordWrite, type RevisedRecord } from '../ports/recordStore';
import type { CustomMergeRules, EntityMergePolicy } from '../core/merge';
import { mergePulled } from './mergePulled';
import { validateProviderRecord } from './validate';
import type { SettledPush } from '../core/outbound/settledPushes';
import { writePlanned, type PlannedRecord } from './writePlanned';

export interface ApplyPageInput {
  records: RecordStore;
  scope: RecordScope;
  runId: string;
  /** The step's id; every record this step changes is stamped with it. */
  stepId: string;
  mode: SyncMode;
  page: readonly ProviderRecord[];
  now: IsoTime;
  /** Two-way sync: how records with an unpushed local change merge (default: manual). */
  mergePolicy?: EntityMergePolicy;
  customRules?: CustomMergeRules;
  /** The connection's provider, named as the origin of the field clocks a merge takes from the page. */
  remoteOrigin?: string;
  /**
   * The page holds webhook events, which providers do not promise to send in order: a deletion with
   * a time is stored even for a record the store does not hold (a tombstone only, never a live
   * record), and moves a stored tombstone's time forward when it is newer. An older create or update
   * that arrives after it then finds that time and is stale (shared/core/webhookIntake/eventOrder.ts)
   * instead of bringing the record to life. Sync runs leave it off: a listing's deleted records we
   * never had are not worth storing.
   *
   * It also marks the page as the webhook applier's, which judged its order already (staleReason,
   * with the receipt order of deliveries). A run's page (left off) is judged here instead
   * (pulledIsStale): a state older than one a webhook stored since the page was listed is skipped.
   */
  keepDeletionTimes?: boolean;
  /**
   * The stored states of the page's records, when the caller has just read them (the webhook
   * applier judges event order from them): every stored record of the page must be in it, and
   * applyPage then reads none itself. Writes are still made only if the record is unchanged since
   * that read (ifRevision), so a change committed meanwhile is decided again from a fresh read.
   */
  states?: ReadonlyMap<string, RecordState>;
}

export interface ApplyPageResult {
  counters: RunCounters;
  /** Highest provider update time on the page (ISO), never later than `now` (clampHighWater), or null. */
  highWater: string | null;
  /** Records stamped further in the future than clock skew explains (isFutureStamped): reported, then applied. */
  futureStamped: Array<{ externalId: string; updatedAt: string }>;
  /** Records that failed validation, with their reasons. */
  rejected: Array<{ externalId: string; reasons: string[] }>;
  /** How many records were written to the store (unchanged ones cost none). */
  writes: number;
  /**
   * Pending pushes this page's merges settled (a record's local change that the provider's copy
   * now holds, or whose fields left to a person it now agrees on). A parked one waits for nobody
   * any more: the caller hands them to `settleParkedPushes` (shared/core/outbound).
   */
  settledPushes: SettledPush[];
}

/** Later of two provider timestamps; both ISO, compared as instants. */
function laterOf(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

/**
 * The pull pipeline for one page: validate → dedupe within the page → detect change by content
 * hash (or merge a record holding an unpushed local change) → write what changed, each record only
 * if unchanged since it was read (writePlanned) → remember what a full pass saw.
 *
 * Replay safety: a step applied twice (a redelivered message, a crash between this write and the
 * run checkpoint) finds its own `stepId` on the records it changed the first time and counts them
 * as it did then, so counters stay exact without a transaction spanning records and runs.
 */
export async function applyPage(input: ApplyPageInput): Promise<ApplyPageResult> {
  const { scope, stepId } = input;
  const counters = emptyCounters();
  counters.fetched = input.page.length;
  const rejected: ApplyPageResult['rejected'] = [];
  const futureStamped: ApplyPageResult['futureStamped'] = [];
  let highWater: string | null = null;

  // Later occurrences of an id in one page win (a provider may list a record twice mid-update).
  const latest = new Map<string, ProviderRecord>();
  for (const record of input.page) {
    const reasons = validateProviderRecord(record);
    if (reasons.length > 0) {
      counters.failed += 1;
      rejected.push({ externalId: record.externalId, reasons });
      continue;
    }
    if (latest.has(record.externalId)) counters.unchanged += 1; // the earlier copy is superseded
    latest.set(record.externalId, record);
    highWater = laterOf(highWater, record.updatedAt);
    if (isFutureStamped(record.updatedAt, input.now)) futureStamped.push({ externalId: record.externalId, updatedAt: record.updatedAt! });
  }
  highWater = clampHighWater(highWater, input.now);

  // One read of the page's states (revisions included), unless the caller's, and in the common case one write.
  const states = input.states ?? (await input.records.getStates(scope, [...latest.keys()]));
  const plans = new Map<string, PlannedRecord>();
  const seen: string[] = [];
  const toMerge: ProviderRecord[] = [];
  for (const record of latest.values()) {
    const state = states.get(record.externalId);
    if (!record.deleted) seen.push(record.externalId);
    if (holdsLocalChange(state, stepId)) toMerge.push(record);
    else plans.set(record.externalId, planPlain(input, record, state));
  }
  await Promise.all(toMerge.map(async (record) => plans.set(record.externalId, await planMerge(input, record))));
  refuseOversized(plans, counters, rejected);

  // A local change committed since the read: decide again for those records only, from a fresh read.
  await writePlanned(input.records, scope, plans, (externalId, state) => {
    const record = latest.get(externalId)!;
    return holdsLocalChange(state, stepId) ? planMerge(input, record) : Promise.resolve(planPlain(input, record, state));
  });

  let writes = 0;
  const settledPushes: SettledPush[] = [];
  for (const plan of plans.values()) {
    counters[plan.counter] += 1;
    if (plan.write) writes += 1;
    if (plan.write && plan.settles) settledPushes.push(plan.settles);
  }
  // Even a page that saw nothing marks: the sweep refuses a seen-set that was never opened.
  if (input.mode === 'full') await input.records.markSeen(input.runId, scope, seen);
  return { counters, highWater, futureStamped, rejected, writes, settledPushes };
}

/**
 * A record too large for the store (MAX_RECORD_BYTES; Cosmos DB's 2 MB per document) is rejected
 * like an invalid one: counted failed, named in `rejected`, not written. Writing it would fail its
 * whole page on every attempt. It stays in a full run's seen-set, so its stored copy (if any) is
 * not swept for it.
 */
function refuseOversized(plans: Map<string, PlannedRecord>, counters: RunCounters, rejected: ApplyPageResult['rejected']): void {
  for (const [externalId, plan] of plans) {
    if (!plan.write) continue;
    const bytes = recordWriteBytes(plan.write);
    if (bytes <= MAX_RECORD_BYTES) continue;
    plans.delete(externalId);
    counters.failed += 1;
    rejected.push({ externalId, reasons: [`The record is ${bytes} bytes as JSON; the store takes at most ${MAX_RECORD_BYTES}.`] });
  }
}

/** A local change not yet pushed: merged, not overwritten (a replay of this step counts as before). */
function holdsLocalChange(state: RecordState | undefined, stepId: string): boolean {
  return state?.pendingPush === true && state.lastStepId !== stepId;
}

/**
 * A pulled record over a stored one with a pending push: the stored record is read whole (with
 * its revision) and merged (mergePulled), unless the pulled state is older than one a webhook
 * stored (pulledIsStale). If its push settled since the page's states were read, it is an
 * ordinary record again.
 */
async function planMerge(input: ApplyPageInput, record: ProviderRecord): Promise<PlannedRecord> {
  const read = await input.records.getWithRevision(input.scope, record.externalId);
  const state = read && stateOf(read);
  if (!read || !holdsLocalChange(state, input.stepId)) return planPlain(input, record, state);
  // As in decide(): a run's page listed before a webhook merged a newer provider state into the
  // record is skipped, or its older values would merge in as remote changes and roll it back.
  if (!input.keepDeletionTimes && pulledIsStale(record.updatedAt, state!)) return { counter: 'unchanged', write: null };
  const merged = mergePulled(read.record, record, { policy: input.mergePolicy, customRules: input.customRules, stepId: input.stepId, now: input.now, remoteOrigin: input.remoteOrigin });
  const plan: PlannedRecord = { counter: merged.counter, write: merged.write && { ...merged.write, ifRevision: read.revision } };
  const pending = read.record.pendingPush;
  if (merged.write && pending && (merged.manualFields ?? []).length === 0) {
    plan.settles = { externalId: record.externalId, outboxId: pending.outboxId, version: merged.write.version, agreed: !merged.write.pendingPush };
  }
  return plan;
}

/** A pulled record over a stored one without a local change (or none): change detection by hash. */
function planPlain(input: ApplyPageInput, record: ProviderRecord, state: RecordState | undefined): PlannedRecord {
  const { scope, stepId, now } = input;
  const content = record.deleted ? undefined : hashContent(record, state);
  const outcome = decide(record, content?.hash ?? state?.hash ?? '', state, stepId, input.keepDeletionTimes === true);
  if (!outcome.write) return { counter: outcome.counter, write: null };
  // Fields spelled out rather than spread from `scope`: this literal runs once per changed record.
  const write: RecordWrite = {
    tenantId: scope.tenantId,
    connectionId: scope.connectionId,
    entity: scope.entity,
    id: recordId(scope.tenantId, scope.connectionId, scope.entity, record.externalId),
    externalId: record.externalId,
    data: record.deleted ? {} : record.data,
    dataJson: record.deleted ? '{}' : content!.json,
    hash: content?.hash ?? state?.hash ?? EMPTY_HASH,
    rawHash: content?.rawHash ?? null,
    // A deletion's time moved forward on a tombstone is no change of content: the version stays.
    version: (state?.version ?? 0) + (outcome.keepVersion ? 0 : 1),
    deleted: record.deleted,
    deletedAt: record.deleted ? now : null,
    firstSeenAt: state?.firstSeenAt ?? now,
    lastModifiedAt: now,
    lastAction: outcome.action!,
    sourceUpdatedAt: record.updatedAt,
    lastStepId: stepId,
    // Only over the record as read: a local change committed since then is merged, not overwritten.
    ifRevision: state?.revision ?? null,
  };
  // A moved record's links are its identity, not the provider's content: a pull keeps them. A
  // tombstone's `movedTo` stops being true once the provider lists the old id alive again.
  if (state?.previousIds) write.previousIds = state.previousIds;
  if (state?.movedTo && record.deleted) write.movedTo = state.movedTo;
  return { counter: outcome.counter, write };
}

/**
 * A tombstone at version 1 was stored deleted from the start: a webhook deletion of a record the
 * store never held. (A record that lived was written at version 1 and deleted at 2 or later.)
 */
function neverLive(state: RecordState): boolean {
  return state.deleted && state.version === 1;
}

/** Whether provider time `a` is later than `b` (a missing `b` is earlier than any time). */
function isLater(a: string, b: string | null): boolean {
  return b === null || Date.parse(a) > Date.parse(b);
}

function stateOf({ record, revision }: RevisedRecord): RecordState {
  return {
    externalId: record.externalId,
    hash: record.hash,
    rawHash: record.rawHash ?? null,
    version: record.version,
    deleted: record.deleted,
    lastAction: record.lastAction,
    lastStepId: record.lastStepId,
    firstSeenAt: record.firstSeenAt,
    revision,
    sourceUpdatedAt: record.sourceUpdatedAt ?? null,
    ...(record.pendingPush ? { pendingPush: true } : {}),
    ...(record.previousIds ? { previousIds: record.previousIds } : {}),
    ...(record.movedTo ? { movedTo: record.movedTo } : {}),
  };
}

/**
 * The record's hashes and JSON text. The raw hash (the provider's own key order) is cheap; when
 * it matches the stored one the content is unchanged and the canonical hash is not computed —
 * the stored one is reused. Otherwise the canonical hash decides, which is the raw hash itself
 * when the provider's key order is already the canonical one.
 */
function hashContent(record: ProviderRecord, state: RecordState | undefined): { json: string; rawHash: string; hash: string } {
  const json = JSON.stringify(record.data);
  const rawHash = sha('sha256', json, 'hex');
  if (state && !state.deleted && state.rawHash === rawHash) return { json, rawHash, hash: state.hash };
  // Data whose keys come sorted (as many providers send them) has its raw JSON as canonical JSON.
  return { json, rawHash, hash: contentHashFromJsonHash(record.data, rawHash) };
}

/** The hash of a tombstone's data (`{}`), for one stored before any content was known. */
const EMPTY_HASH = contentHash({});

type Decision = { counter: keyof RunCounters; write: boolean; action?: SyncRecord['lastAction']; keepVersion?: boolean };

function decide(record: ProviderRecord, hash: string, state: RecordState | undefined, stepId: string, keepDeletionTimes: boolean): Decision {
  // This very step changed the record before (replay): count it as the first attempt did.
  if (state && state.lastStepId === stepId) {
    const counter = state.lastAction === 'added' ? 'created' : state.lastAction === 'updated' ? 'updated' : neverLive(state) ? 'unchanged' : 'deleted';
    return { counter, write: false };
  }
  // A run's page listed before a webhook stored a newer state (or a deletion): skipped, never a
  // roll-back. Counted unchanged, as nothing changed; still in a full run's seen-set (applyPage), so
  // the closing sweep leaves the record alone.
  if (state && !keepDeletionTimes && pulledIsStale(record.updatedAt, state)) return { counter: 'unchanged', write: false };
  if (record.deleted) {
    // A tombstone for a record we hold alive deletes it.
    if (state && !state.deleted) return { counter: 'deleted', write: true, action: 'deleted' };
    // For one we never had or already deleted, nothing is deleted (so nothing is counted); webhook
    // events still store the deletion's time, for the older events that may arrive after it.
    if (keepDeletionTimes && record.updatedAt !== null) {
      if (!state) return { counter: 'unchanged', write: true, action: 'deleted' };
      if (isLater(record.updatedAt, state.sourceUpdatedAt)) return { counter: 'unchanged', write: true, action: 'deleted', keepVersion: true };
    }
    return { counter: 'unchanged', write: false };
  }
  if (!state || state.deleted) return { counter: 'created', write: true, action: 'added' };
  if (state.hash === hash) return { counter: 'unchanged', write: false };
  return { counter: 'updated', write: true, action: 'updated' };
}
