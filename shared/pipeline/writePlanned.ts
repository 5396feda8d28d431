import { chunkBySize } from '../core/chunks';
import { SyncBridgeError, isSyncBridgeError } from '../core/errors';
import type { RecordScope, RecordState, RunCounters } from '../core/model';
import type { SettledPush } from '../core/outbound/settledPushes';
import { MAX_CONDITIONAL_WRITE, MAX_CONDITIONAL_WRITE_BYTES, recordWriteBytes, type RecordStore, type RecordWrite } from '../ports/recordStore';

/**
 * How often a page's writes are tried again after a local change (a PATCH, a push being recorded)
 * committed between the page's read and its write. Each lost race means such a write landed in
 * those few milliseconds; losing this many in a row is not expected, and the step is then failed
 * as transient so that it runs again (the broker redelivers it), never dropped.
 */
export const PAGE_WRITE_ATTEMPTS = 5;

/** What the pipeline decided for one record of a page: how it counts, and what it writes (with its condition). */
export interface PlannedRecord {
  counter: keyof RunCounters;
  /** `ifRevision` is the revision the decision was taken on (null: none was stored). */
  write: RecordWrite | null;
  /** The record's pending push this write settles, if it does (applyPage's `settledPushes`). */
  settles?: SettledPush;
}

/** Decides again for one record, from what the store holds now (undefined: nothing stored). */
export type Replan = (externalId: string, state: RecordState | undefined) => Promise<PlannedRecord>;

/**
 * Writes the planned records of a page with compare-and-set: each write only if the record still
 * has the revision its decision was taken on, so a local change committed since the page was read
 * is merged, never overwritten (and its outbox entry is not then closed as superseded).
 *
 * The common case costs what an unconditional write did: the writes go out in calls of at most
 * MAX_CONDITIONAL_WRITE records and MAX_CONDITIONAL_WRITE_BYTES (one transaction each), all at once. A call that loses (`conflict`, nothing of it
 * written on Cosmos DB or SQLite) is read again with one `getStates`; only the records whose
 * revision moved are decided again (`replan` — a merge if a local change is pending now), and
 * those calls are tried again. Records whose own earlier write got in (the loopback Cosmos test
 * server applies a failed batch in part) are found stamped with the step's id and count as a
 * replay. `plans` is updated in place, so the caller counts what was finally decided.
 */
export async function writePlanned(records: RecordStore, scope: RecordScope, plans: Map<string, PlannedRecord>, replan: Replan): Promise<void> {
  let ids = [...plans.keys()].filter((id) => plans.get(id)!.write !== null);
  for (let attempt = 1; ids.length > 0; attempt += 1) {
    const calls = conditionalCalls(ids, (id) => plans.get(id)!.write!);
    const results = await Promise.allSettled(calls.map((call) => records.write(call.map((id) => plans.get(id)!.write!))));
    const lost: string[] = [];
    for (let i = 0; i < results.length; i += 1) {
      const result = results[i];
      if (result.status === 'fulfilled') continue;
      if (!isSyncBridgeError(result.reason, 'conflict')) throw result.reason;
      lost.push(...calls[i]);
    }
    if (lost.length === 0) return;
    if (attempt >= PAGE_WRITE_ATTEMPTS) {
      throw new SyncBridgeError('transient', `Records of ${scope.entity} in connection ${scope.connectionId} changed during each of ${attempt} attempts to write a page (${lost.length} record(s) still unwritten).`);
    }
    const fresh = await records.getStates(scope, lost);
    await Promise.all(lost.map(async (id) => {
      const state = fresh.get(id);
      if ((state?.revision ?? null) !== plans.get(id)!.write!.ifRevision) plans.set(id, await replan(id, state));
    }));
    ids = lost.filter((id) => plans.get(id)!.write !== null);
  }
}

/**
 * The ids split into calls that each fit one transaction: at most MAX_CONDITIONAL_WRITE records
 * and MAX_CONDITIONAL_WRITE_BYTES, so a page of large records goes out in more, smaller calls.
 * (A record larger than the byte budget goes alone; applyPage keeps records within MAX_RECORD_BYTES.)
 */
export function conditionalCalls(ids: readonly string[], writeOf: (id: string) => RecordWrite): string[][] {
  return chunkBySize(ids, (id) => recordWriteBytes(writeOf(id)), { maxCount: MAX_CONDITIONAL_WRITE, maxBytes: MAX_CONDITIONAL_WRITE_BYTES });
}
