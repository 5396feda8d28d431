import type { SandboxEntity } from './entities';
import type { SandboxRecord } from './records/recordTypes';

/** What a listing serves for a record deleted since `updated_since`, and what a delete event carries. */
export interface Tombstone {
  id: string;
  deleted: true;
  updated_at: string;
}

export type RecordChangeKind = 'created' | 'updated' | 'deleted';

/**
 * One change to one record, whoever made it (control API, bulk mutation or a /v1 write). The
 * webhook dispatcher turns each into an event; `record` is the new version, or the tombstone.
 */
export interface RecordChange {
  entity: SandboxEntity;
  kind: RecordChangeKind;
  id: string;
  /** The unix second the change is stamped with (the record's new updated_at). */
  second: number;
  /** The record's version after the change; seeded records start at 1. */
  version: number;
  record: SandboxRecord | Tombstone;
}

/** Called synchronously inside the mutation, so it must only queue work, never do it. */
export type RecordChangeListener = (change: RecordChange) => void;
