/**
 * Document shapes shared by every store implementation (DESIGN.md §5). The same fields are stored
 * locally (SQLite) and on Azure (Cosmos DB); ports move these shapes, never storage rows.
 */

export type JsonObject = { [key: string]: unknown };

/** ISO-8601 UTC timestamp with milliseconds, e.g. 2026-11-23T10:00:00.000Z. */
export type IsoTime = string;

// ---------------------------------------------------------------- tenants and API keys

export type Role = 'admin' | 'operator' | 'viewer';

export interface Tenant {
  id: string;
  name: string;
  /** Maximum number of runs in state running or paused at once; the rest wait as queued. */
  maxActiveRuns: number;
  createdAt: IsoTime;
}

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  name: string;
  role: Role;
  /** SHA-256 of the key, hex. Keys are 256-bit random values, so a fast hash is enough. */
  keyHash: string;
  createdAt: IsoTime;
}

// ---------------------------------------------------------------- connections

export type EntityDirection = 'pull' | 'push' | 'both';
export type SyncMode = 'full' | 'incremental';

export interface ConnectionEntity {
  name: string;
  direction: EntityDirection;
}

export interface ConnectionSchedule {
  /** NCRONTAB with six fields (seconds first) or classic five-field cron. */
  cron: string;
  /** IANA time zone the cron expression is read in. */
  timeZone: string;
  mode: SyncMode;
  enabled: boolean;
}

export type ConnectionStatus = 'active' | 'paused' | 'reauthorization_required' | 'error';

/** What the connection remembers per entity between runs. */
export interface EntitySyncState {
  /** Highest provider `updated_at` seen by a completed run; the next incremental reads from here. */
  highWater?: string | null;
  lastCompletedRunId?: string;
  lastCompletedAt?: IsoTime;
  lastFullSyncAt?: IsoTime;
}

export interface Connection {
  id: string;
  tenantId: string;
  provider: string;
  displayName?: string;
  /** Provider settings that are not secret (base URL, page size, …). */
  config: JsonObject;
  /** Name of the credential in the secret store; never the credential itself. */
  credentialRef?: string;
  entities: ConnectionEntity[];
  schedule: ConnectionSchedule;
  status: ConnectionStatus;
  /**
   * When the provider refused the connection's authorization (docs/oauth.md §4); absent (or null)
   * while it has none refused. Set with status `reauthorization_required`, or beside `paused` when
   * an operator had paused the connection: the pause stands, and resuming it then leads to
   * `reauthorization_required`. New credentials (connect, PUT .../credentials) or a new client
   * secret remove it.
   */
  reauthorizationRequiredSince?: IsoTime | null;
  syncState: Record<string, EntitySyncState>;
  /**
   * When the scheduler last acted on an occurrence of the schedule: started its run, or spent it
   * (a connection that is not active, one that cannot sync). An occurrence that comes due while a
   * run of the connection is open does not move it, so the connection stays due: the catch-up.
   */
  lastScheduledAt?: IsoTime;
  createdAt: IsoTime;
  updatedAt: IsoTime;
  /** Optimistic-concurrency token; stores bump it on every write. */
  version: number;
}

// ---------------------------------------------------------------- records

export type RecordAction = 'added' | 'updated' | 'deleted';

export interface RecordScope {
  tenantId: string;
  connectionId: string;
  entity: string;
}

export interface SyncRecord extends RecordScope {
  /** Deterministic id from (tenant, connection, entity, externalId); see recordId(). */
  id: string;
  externalId: string;
  data: JsonObject;
  /** SHA-256 of the canonical JSON of `data` (keys sorted), hex: what decides whether content changed. */
  hash: string;
  /**
   * SHA-256 of `data` serialised in the provider's own key order, hex, or null when unknown. A cheap
   * first check: when it matches, the content is unchanged and the canonical hash need not be
   * computed; when it differs, `hash` decides (the provider may just have reordered keys).
   */
  rawHash?: string | null;
  /** Starts at 1, +1 on every stored change. */
  version: number;
  deleted: boolean;
  deletedAt?: IsoTime | null;
  firstSeenAt: IsoTime;
  lastModifiedAt: IsoTime;
  lastAction: RecordAction;
  /** The provider's own last-update time for this record, when it has one. */
  sourceUpdatedAt?: string | null;
  /**
   * The pipeline step that last changed this record. A step replayed after a crash finds its own
   * stamp and counts the record as it did the first time, which keeps run counters exact.
   */
  lastStepId: string;
  /**
   * Two-way sync: the last version of `data` both sides agreed on (the base of a three-way merge).
   * Absent (or null) means `data` itself is agreed: a pulled record, or one whose push succeeded.
   */
  base?: JsonObject | null;
  /** Two-way sync: when each field last changed and which system changed it. Absent: none known. */
  fieldClock?: FieldClocks | null;
  /** Two-way sync: the local change waiting to be pushed to the provider. Absent: nothing pending. */
  pendingPush?: PendingPush | null;
  /**
   * On a tombstone only: the external id the record lives under now. A pushed create moves from its
   * temporary id (`local-…`, or the old id of a record the provider deleted and a resolution created
   * again) to the id the provider assigned, and the tombstone left behind names it, so that a client
   * holding the old id can follow. Absent: the record was deleted, not moved.
   */
  movedTo?: string | null;
  /**
   * The external ids this record was stored under before it moved here, oldest first (the temporary
   * id of a local create; for a record created again, that record's ids and the one it replaced).
   * Each of them is a tombstone whose `movedTo` names the next. Absent: none.
   */
  previousIds?: string[] | null;
}

/** When a field last changed and which system changed it ('syncbridge' or the provider's name). */
export interface FieldClock {
  timestamp: IsoTime;
  origin: string;
}

export type FieldClocks = Record<string, FieldClock>;

export type PushOperation = 'create' | 'update' | 'delete';

/** A local change not yet accepted by the provider; `version` is the record version that made it. */
export interface PendingPush {
  op: PushOperation;
  version: number;
  /** The outbox entry that carries it (see OutboxStore). */
  outboxId: string;
  since: IsoTime;
}

/** What change detection needs to know of a stored record, without its payload. */
export type RecordState = Pick<
  SyncRecord,
  'externalId' | 'hash' | 'version' | 'deleted' | 'lastAction' | 'lastStepId' | 'firstSeenAt'
> & {
  rawHash: string | null;
  /** True when the record holds a local change not yet pushed (a pull must merge, not overwrite). */
  pendingPush?: boolean;
  /** The stored record's revision (RecordStore): a pull writes only if it still has this one. */
  revision: string;
  /**
   * The provider's time of the stored state (SyncRecord.sourceUpdatedAt), null when none: a webhook
   * deletion newer than a stored tombstone moves it forward, so older events arriving later are stale.
   */
  sourceUpdatedAt: string | null;
  /**
   * The record's links to the ids it moved from or to (SyncRecord.previousIds, movedTo), present
   * only when it has them: a pull or webhook rewrites the record from its state and keeps them.
   */
  previousIds?: string[];
  movedTo?: string;
};

// ---------------------------------------------------------------- runs

export type RunState = 'queued' | 'running' | 'paused' | 'done' | 'partial' | 'failed' | 'cancelled';
export const ACTIVE_RUN_STATES: readonly RunState[] = ['running', 'paused'];
export const OPEN_RUN_STATES: readonly RunState[] = ['queued', 'running', 'paused'];
export const FINAL_RUN_STATES: readonly RunState[] = ['done', 'partial', 'failed', 'cancelled'];

export type RunTrigger = 'schedule' | 'manual' | 'api';

/** Who paused a run: an operator (POST /api/syncs/{runId}/pause), or its connection's pause. */
export type RunPauser = 'operator' | 'connection';

export interface RunCounters {
  fetched: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  failed: number;
}

export type EntityRunStatus = 'pending' | 'running' | 'done' | 'failed';

export interface EntityProgress {
  entity: string;
  status: EntityRunStatus;
  /** Provider cursor for the next page; null when the first page is next or the entity is done. */
  cursor: string | null;
  /** Number of pages already applied; the next step fetches page `pages + 1`. */
  pages: number;
  /** Incremental runs: the provider `updated_since` this run reads from. */
  since: string | null;
  /** Highest provider `updated_at` seen in this run. */
  highWater: string | null;
  /** Total records the provider reported for this listing, when it reports one. */
  total: number | null;
  counters: RunCounters;
  /** Consecutive failed attempts of the current page (reset on success). */
  attempts: number;
  lastError?: string | null;
  /** Consecutive pages that held no records yet named a next cursor (stepRunner caps them). */
  emptyPages?: number;
}

export interface Run {
  id: string;
  tenantId: string;
  connectionId: string;
  kind: SyncMode;
  trigger: RunTrigger;
  state: RunState;
  entities: EntityProgress[];
  createdAt: IsoTime;
  startedAt?: IsoTime | null;
  finishedAt?: IsoTime | null;
  updatedAt: IsoTime;
  lastError?: string | null;
  /**
   * When the closing step of a full run claimed it to sweep deletions (null or absent before).
   * From then on the run can no longer be cancelled or paused: a cancel clears the run's
   * seen-sets, and the sweep must neither race that nor leave a "cancelled" run that deleted
   * records (docs/sync-engine.md, "Cancelling a run that is closing").
   */
  finalizingAt?: IsoTime | null;
  /**
   * When the run's next step message is due at the latest: set with every checkpoint that sends
   * one (now, or a provider's rate-limit reset) and every reschedule (its Retry-After or backoff).
   * The run watchdog (runWatchdog.ts) takes the later of this and updatedAt; absent on runs
   * stored before it existed, which count from updatedAt alone.
   */
  nextStepDueAt?: IsoTime | null;
  /** Times the watchdog re-sent the run's next step since the run last moved (absent: none). */
  redrives?: number;
  /**
   * Why the run is held (null or absent: it is not, or it was paused before this field existed,
   * which counts as an operator's pause). On a paused run, who paused it; on a queued run,
   * 'connection' means its connection's pause holds it: tryStart leaves it queued (RunStore).
   * The connection's resume resumes (or releases) only runs held by 'connection', so a run an
   * operator paused stays paused (connectionRuns.ts).
   */
  pausedBy?: RunPauser | null;
  /** Bumped on every resume, so that resumed step messages get fresh message ids. */
  resumes: number;
  /** Optimistic-concurrency token; stores bump it on every write. */
  version: number;
}

export function emptyCounters(): RunCounters {
  return { fetched: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, failed: 0 };
}
