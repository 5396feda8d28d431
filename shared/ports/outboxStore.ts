import type { IsoTime, JsonObject, PushOperation } from '../core/model';
import type { RecordWrite } from './recordStore';

/**
 * pending: waits for (or is in) the outbound worker; done: the provider accepted it; parked: a
 * conflict waits for a person (see ConflictStore); dead: retries ran out or the provider refused.
 */
export type OutboxState = 'pending' | 'done' | 'parked' | 'dead';

/** One local change to push to the provider (the transactional outbox pattern). */
export interface OutboxEntry {
  /** Deterministic from (record id, version) — see outboxId(); also the queue message id. */
  id: string;
  tenantId: string;
  connectionId: string;
  entity: string;
  externalId: string;
  recordId: string;
  /** The record version this change produced; the provider's Idempotency-Key derives from it. */
  version: number;
  op: PushOperation;
  /** The record's data after the change; null for a delete. */
  data: JsonObject | null;
  /** The fields the change touched (all of them for a create or a full replace). */
  changedFields: string[];
  state: OutboxState;
  attempts: number;
  /** How often the entry was sent again: a dead letter's replay (POST /api/deadletters/{id}/replay), or a parked push a merge settled (settledPushes.ts). */
  replays?: number;
  lastError?: string | null;
  /**
   * When the outbound worker is due to try the entry again: the time its retry message is
   * scheduled for (a backoff, or the provider's Retry-After). Absent or null: due at once.
   */
  nextAttemptAt?: IsoTime | null;
  /**
   * On a later change of a record created locally whose create was still pending (temporary id):
   * the id of that create's entry, which itself may name an earlier one. Its create may have
   * reached the provider with its answer lost, so the worker sends that create again, with its key
   * and data, before this change (OutboundService) — never a second create under a new key.
   */
  priorCreate?: string;
  createdAt: IsoTime;
  updatedAt: IsoTime;
}

/** Fields left out keep their value; `null` clears `lastError` and `nextAttemptAt`. */
export interface OutboxUpdate {
  state: OutboxState;
  attempts?: number;
  replays?: number;
  lastError?: string | null;
  nextAttemptAt?: IsoTime | null;
}

export interface ListPendingOptions {
  connectionId?: string;
  limit: number;
  /**
   * Only entries idle since this time: updated at or before it, and not due after it
   * (`nextAttemptAt` absent, null, or at or before it). The relay's question: whose queue message
   * should have been handled by now? Filtered before `limit` applies.
   */
  idleSince?: IsoTime;
}

/**
 * Local changes waiting to be pushed.
 *
 * Semantics (tests/conformance/outboxStore.conformance.ts):
 * - `commitLocalChange` writes the record and its entry atomically: both or neither. This is
 *   what makes a crash between an API write and its push harmless — the entry survives, and
 *   `listPending` finds it for the relay that re-sends it. `alongside` are more records of the
 *   same scope written in the same transaction (a pushed create moving to the provider's id
 *   leaves a tombstone at its temporary one).
 * - An entry id is used once: committing an id that exists fails with `conflict` and writes
 *   nothing (the version was taken by a concurrent change).
 * - A record (or one alongside) that carries `ifRevision` is committed only if the stored record
 *   still has that revision (RecordStore); otherwise the commit fails with `conflict` and writes
 *   nothing. A local change built on a read must name it: the outbound worker may have recorded a
 *   push in between without moving the version, so the entry id alone would not catch it.
 * - `listPending` returns pending entries oldest first, optionally of one connection, and with
 *   `idleSince` only those neither updated nor due after that time (times compare as ISO-8601
 *   UTC strings, the form `Date.toISOString` gives).
 * - `update` replaces the state and the fields it names, keeps the others, and stamps `updatedAt`.
 * - `update` of an unknown id fails with `not_found`.
 */
export interface OutboxStore {
  commitLocalChange(record: RecordWrite, entry: OutboxEntry, alongside?: readonly RecordWrite[]): Promise<void>;
  get(id: string): Promise<OutboxEntry | undefined>;
  listPending(options: ListPendingOptions): Promise<OutboxEntry[]>;
  update(id: string, update: OutboxUpdate, at: IsoTime): Promise<OutboxEntry>;
}
