import { SyncBridgeError } from '../../core/errors';
import type { IsoTime, RecordAction, RecordScope, RecordState, SyncRecord } from '../../core/model';
import type { RecordListQuery, RecordPage, RecordStore, RecordWrite, RevisedRecord } from '../../ports/recordStore';
import type { SqliteDatabase } from './database';
import { CommitStamps } from './commitStamps';
import { decodeRecordCursor, encodeRecordCursor } from './recordCursor';
import { RecordScopeKeys } from './recordScopeKeys';
import { SqliteSeenSets } from './sqliteSeenSets';
import { turnCommitOf } from './turnCommit';

/** The port caps pages at 1,000 records. */
const MAX_LIST_LIMIT = 1000;

/**
 * Records live in an ordinary rowid table (rows of ~1 KB are too wide for WITHOUT ROWID to pay),
 * keyed by small integers for their scope and connection (see RecordScopeKeys). Four indexes,
 * each for one read path and nothing more:
 * - records_by_external_id (scope_key, external_id): upsert target, getStates, get, count, sweep;
 * - records_by_connection_modified (connection_key, last_modified_at): list of a whole connection;
 * - records_by_scope_modified (scope_key, last_modified_at): list of one entity;
 * - records_live_by_external_id (scope_key, external_id) WHERE deleted = 0: the deletion sweep walks
 *   this small covering index instead of every ~1 KB row of the scope.
 * Every index entry ends in the row key, so the list keyset (last_modified_at, row_key) is served
 * by these indexes without a sort. row_key is declared INTEGER PRIMARY KEY so that VACUUM cannot
 * renumber it, and an upsert keeps it: a record's place in the keyset moves only with its
 * lastModifiedAt.
 * The seen-set of a full run is a narrow WITHOUT ROWID table of its own (SqliteSeenSets), so the
 * sweep's NOT EXISTS probe is one b-tree lookup per record and clearing it is one DROP TABLE.
 * `revision` counts every write of a row (the upsert and the sweep add one), whether or not the
 * record's version moves: it is the token of RecordStore's compare-and-set (`ifRevision`).
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  row_key INTEGER PRIMARY KEY,
  scope_key INTEGER NOT NULL,
  connection_key INTEGER NOT NULL,
  external_id TEXT NOT NULL,
  id TEXT NOT NULL,
  hash TEXT NOT NULL,
  raw_hash TEXT,
  version INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  deleted_at TEXT,
  first_seen_at TEXT NOT NULL,
  last_modified_at TEXT NOT NULL,
  last_action TEXT NOT NULL,
  source_updated_at TEXT,
  last_step_id TEXT NOT NULL,
  data TEXT NOT NULL,
  base TEXT,
  field_clock TEXT,
  pending_push TEXT,
  revision INTEGER NOT NULL DEFAULT 0,
  moved_to TEXT,
  previous_ids TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS records_by_external_id ON records (scope_key, external_id);
CREATE INDEX IF NOT EXISTS records_by_connection_modified ON records (connection_key, last_modified_at);
CREATE INDEX IF NOT EXISTS records_by_scope_modified ON records (scope_key, last_modified_at);
CREATE INDEX IF NOT EXISTS records_live_by_external_id ON records (scope_key, external_id) WHERE deleted = 0;
CREATE TABLE IF NOT EXISTS record_sweeps (
  run_id TEXT NOT NULL,
  step_id TEXT NOT NULL,
  swept INTEGER NOT NULL,
  PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;
`;

interface RecordRow {
  row_key: number;
  scope_key: number;
  external_id: string;
  id: string;
  hash: string;
  raw_hash: string | null;
  version: number;
  deleted: number;
  deleted_at: string | null;
  first_seen_at: string;
  last_modified_at: string;
  last_action: RecordAction;
  source_updated_at: string | null;
  last_step_id: string;
  data: string;
  base: string | null;
  field_clock: string | null;
  pending_push: string | null;
  revision: number;
  moved_to: string | null;
  previous_ids: string | null;
}

type StateRow = Pick<RecordRow, 'external_id' | 'hash' | 'raw_hash' | 'version' | 'deleted' | 'last_action' | 'last_step_id' | 'first_seen_at' | 'revision' | 'source_updated_at' | 'moved_to' | 'previous_ids'> & {
  pending: number;
};

/** Two-way sync columns (and a moved record's links), added to databases made before they existed. */
const TWO_WAY_COLUMNS = ['base', 'field_clock', 'pending_push', 'moved_to', 'previous_ids'] as const;

function addMissingColumns(db: SqliteDatabase): void {
  const present = new Set((db.prepare('PRAGMA table_info(records)').all() as { name: string }[]).map((c) => c.name));
  for (const column of TWO_WAY_COLUMNS) if (!present.has(column)) db.exec(`ALTER TABLE records ADD COLUMN ${column} TEXT`);
  if (!present.has('revision')) db.exec('ALTER TABLE records ADD COLUMN revision INTEGER NOT NULL DEFAULT 0');
}

/** How `revision` reads as a string (getWithRevision, getStates): a whole number without sign or leading zeros. */
const STORED_REVISION = /^(0|[1-9][0-9]{0,14})$/;

/** A compare-and-set condition of a write (RecordWrite.ifRevision), checked in its transaction. */
interface RevisionCondition {
  scopeKey: number;
  externalId: string;
  revision: string | null;
}

type Statement = ReturnType<SqliteDatabase['prepare']>;

/** RecordStore on SQLite: the hot path of a sync, so every statement is prepared once. */
export class SqliteRecordStore implements RecordStore {
  private readonly scopes: RecordScopeKeys;
  private readonly upsert;
  private readonly selectStates;
  private readonly selectState;
  private readonly selectOne;
  private readonly countAll;
  private readonly countLive;
  private readonly seenSets: SqliteSeenSets;
  private readonly writeRows: (rows: readonly UpsertParams[]) => void;
  private readonly writeRowsIf: (rows: readonly UpsertParams[], conditions: readonly RevisionCondition[]) => void;
  private readonly writeOneRowIf: (row: UpsertParams, condition: RevisionCondition) => void;
  private readonly sweepAndCount: (runId: string, table: string, params: Record<string, unknown>) => number;
  private readonly forgetSweeps;
  private readonly listStatements = new Map<string, Statement>();

  constructor(private readonly db: SqliteDatabase) {
    this.scopes = new RecordScopeKeys(db);
    db.exec(SCHEMA);
    addMissingColumns(db);
    // Positional parameters: binding an array is measurably cheaper than a named object per row.
    const upsertSql = `
      INSERT INTO records (scope_key, connection_key, external_id, id, hash, raw_hash, version, deleted, deleted_at,
        first_seen_at, last_modified_at, last_action, source_updated_at, last_step_id, data, base, field_clock, pending_push,
        moved_to, previous_ids)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (scope_key, external_id) DO UPDATE SET
        id = excluded.id, hash = excluded.hash, raw_hash = excluded.raw_hash, version = excluded.version, deleted = excluded.deleted,
        deleted_at = excluded.deleted_at, first_seen_at = excluded.first_seen_at,
        last_modified_at = excluded.last_modified_at, last_action = excluded.last_action,
        source_updated_at = excluded.source_updated_at, last_step_id = excluded.last_step_id, data = excluded.data,
        base = excluded.base, field_clock = excluded.field_clock, pending_push = excluded.pending_push,
        moved_to = excluded.moved_to, previous_ids = excluded.previous_ids,
        revision = records.revision + 1`;
    this.upsert = db.prepare<UpsertParams>(upsertSql);
    const stateColumns = `external_id, hash, raw_hash, version, deleted, last_action, last_step_id, first_seen_at, revision, source_updated_at,
        moved_to, previous_ids, pending_push IS NOT NULL AS pending`;
    this.selectStates = db.prepare<[number, string], StateRow>(`
      SELECT ${stateColumns} FROM records WHERE scope_key = ? AND external_id IN (SELECT value FROM json_each(?))`);
    // One record's state (a webhook delivery's): without the JSON list and json_each the list needs.
    this.selectState = db.prepare<[number, string], StateRow>(`SELECT ${stateColumns} FROM records WHERE scope_key = ? AND external_id = ?`);
    this.selectOne = db.prepare<[number, string], RecordRow>('SELECT * FROM records WHERE scope_key = ? AND external_id = ?');
    this.countAll = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM records WHERE scope_key = ?');
    this.countLive = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM records WHERE scope_key = ? AND deleted = 0');
    this.seenSets = new SqliteSeenSets(db);
    // The sweep names the run's own seen table, so it is prepared per sweep (once per entity per run).
    const sweepSql = (table: string) => `
      UPDATE records SET deleted = 1, deleted_at = @at, last_modified_at = @stamp, last_action = 'deleted',
        version = version + 1, last_step_id = @stepId, revision = revision + 1
      WHERE scope_key = @scopeKey AND deleted = 0 AND pending_push IS NULL AND last_modified_at < @writtenBefore AND NOT EXISTS (
        SELECT 1 FROM ${table} s WHERE s.scope_key = @scopeKey AND s.external_id = records.external_id)`;
    const sweptBefore = db.prepare<[string, string], { swept: number }>('SELECT swept FROM record_sweeps WHERE run_id = ? AND step_id = ?');
    const rememberSweep = db.prepare<[string, string, number]>('INSERT INTO record_sweeps (run_id, step_id, swept) VALUES (?, ?, ?)');
    this.forgetSweeps = db.prepare<[string]>('DELETE FROM record_sweeps WHERE run_id = ?');

    const newestOfConnection = db.prepare<[number], { newest: string | null }>('SELECT max(last_modified_at) AS newest FROM records WHERE connection_key = ?');
    // On a handle that commits per turn, a connection's newest stamp is read once per turn (CommitStamps).
    const stampAtCommit = new CommitStamps((connectionKey) => newestOfConnection.get(connectionKey)!.newest, { handle: db, openTurn: () => turnCommitOf(db)?.openTurn });
    // IMMEDIATE: the newest stamp is read under the write lock, so no other connection commits
    // between that read and this write (a deferred one would fail to upgrade if one did).
    this.writeRows = db.transaction((rows: readonly UpsertParams[]) => {
      stampAtCommit.apply(rows);
      for (const row of rows) this.upsert.run(...row);
    }).immediate;
    const selectRevision = db.prepare<[number, string], { revision: number }>('SELECT revision FROM records WHERE scope_key = ? AND external_id = ?');
    // Conditions are checked in the transaction that writes, so nothing can write in between; it
    // begins IMMEDIATE (when it is not already inside one) so that another process cannot either.
    const writeIf = db.transaction((rows: readonly UpsertParams[], conditions: readonly RevisionCondition[]) => {
      for (const condition of conditions) {
        const stored = selectRevision.get(condition.scopeKey, condition.externalId);
        const revision = stored === undefined ? null : String(stored.revision);
        if (revision !== condition.revision) {
          throw new SyncBridgeError('conflict', `Record ${condition.externalId} was written since it was read (revision ${revision ?? 'none'}, expected ${condition.revision ?? 'none'}).`);
        }
      }
      stampAtCommit.apply(rows);
      for (const row of rows) this.upsert.run(...row);
    });
    this.writeRowsIf = writeIf.immediate;
    // One record under a condition (a webhook delivery's, a local change's): the condition is the
    // upsert's own, so the write needs no read first. An update happens only from the expected
    // revision and returns it + 1; an insert returns 0, which only "nothing stored" (null) expects.
    const upsertIf = db.prepare<[...UpsertParams, number | null], { revision: number }>(`${upsertSql} WHERE records.revision = ? RETURNING revision`);
    const writeOneIf = db.transaction((row: UpsertParams, condition: RevisionCondition) => {
      // Stamped as any write, but the connection's floor is raised only once the write stands.
      stampAtCommit.stampOne(row);
      // A revision this store never hands out ('', '1.0', '-1') matches no row, as in the check-first path.
      const expected = condition.revision === null ? null : STORED_REVISION.test(condition.revision) ? Number(condition.revision) : undefined;
      const conflict = (revision: string | null) =>
        new SyncBridgeError('conflict', `Record ${condition.externalId} was written since it was read (revision ${revision ?? 'none'}, expected ${condition.revision ?? 'none'}).`);
      const storedRevision = () => {
        const stored = selectRevision.get(condition.scopeKey, condition.externalId);
        return stored === undefined ? null : String(stored.revision);
      };
      let written: { revision: number } | undefined;
      try {
        written = expected === undefined ? undefined : upsertIf.get(...row, expected);
      } catch (error) {
        // A row the table refuses (a NOT NULL column, say): a failed condition is still what the
        // caller hears first, as when conditions were checked before writing. Any other failure (a
        // full disk, which may roll the whole turn back) is reported as it is.
        if (!String((error as { code?: unknown }).code).startsWith('SQLITE_CONSTRAINT')) throw error;
        const revision = storedRevision();
        if (revision !== condition.revision) throw conflict(revision);
        throw error;
      }
      if (written !== undefined && written.revision === (expected === null ? 0 : expected! + 1)) {
        stampAtCommit.written(row);
        return;
      }
      // Nothing written (a record is stored at another revision), or one inserted where one was
      // expected: thrown, so this savepoint undoes it.
      throw conflict(written === undefined ? storedRevision() : null);
    });
    this.writeOneRowIf = writeOneIf.immediate;
    // The sweep and the record of its count commit together: a replay finds the count and
    // returns it without sweeping again, so the first run and any replay return the same number.
    // (Counting the stamped rows instead read every row of the scope: ~1.7 s per 500,000 records.)
    // Its tombstones are stamped in commit order like any write (CommitStamps).
    this.sweepAndCount = db.transaction((runId: string, table: string, params: Record<string, unknown>) => {
      const before = sweptBefore.get(runId, params.stepId as string);
      if (before) return before.swept;
      const stamp = CommitStamps.stamp(params.at as string, stampAtCommit.floorOf(params.connectionKey as number));
      const { connectionKey: _unused, ...bound } = params;
      const swept = db.prepare(sweepSql(table)).run({ ...bound, stamp }).changes;
      if (swept > 0) stampAtCommit.stamped(params.connectionKey as number, stamp);
      rememberSweep.run(runId, params.stepId as string, swept);
      return swept;
    }).immediate;
  }

  /**
   * The synchronous body of `write`, for a caller that must commit records together with rows of
   * its own in one SQLite transaction (the outbox: a local change and its pending push).
   */
  writeNow(records: readonly RecordWrite[]): void {
    if (records.length === 0) return;
    // Scope keys are resolved (and created) before the records' transaction; see RecordScopeKeys.
    const rows: UpsertParams[] = new Array(records.length);
    let conditions: RevisionCondition[] | undefined;
    let lastScope: RecordScope | undefined;
    let lastKeys = { scopeKey: 0, connectionKey: 0 };
    for (let i = 0; i < records.length; i += 1) {
      const record = records[i];
      if (!lastScope || !sameScope(lastScope, record)) {
        lastScope = record;
        lastKeys = this.scopes.ensure(record);
      }
      rows[i] = toRow(record, lastKeys.scopeKey, lastKeys.connectionKey);
      if (record.ifRevision !== undefined) (conditions ??= []).push({ scopeKey: lastKeys.scopeKey, externalId: record.externalId, revision: record.ifRevision });
    }
    if (conditions === undefined) this.writeRows(rows);
    else if (rows.length === 1) this.writeOneRowIf(rows[0], conditions[0]);
    else this.writeRowsIf(rows, conditions);
  }

  async getStates(scope: RecordScope, externalIds: readonly string[]): Promise<Map<string, RecordState>> {
    const states = new Map<string, RecordState>();
    const keys = externalIds.length === 0 ? undefined : this.scopes.find(scope);
    if (!keys) return states;
    const rows = externalIds.length === 1 ? this.selectState.all(keys.scopeKey, externalIds[0]) : this.selectStates.all(keys.scopeKey, JSON.stringify(externalIds));
    for (const row of rows) {
      states.set(row.external_id, {
        externalId: row.external_id,
        hash: row.hash,
        rawHash: row.raw_hash,
        version: row.version,
        deleted: row.deleted === 1,
        lastAction: row.last_action,
        lastStepId: row.last_step_id,
        firstSeenAt: row.first_seen_at,
        revision: String(row.revision),
        sourceUpdatedAt: row.source_updated_at,
        ...(row.pending === 1 ? { pendingPush: true } : {}),
        ...(row.moved_to === null ? {} : { movedTo: row.moved_to }),
        ...(row.previous_ids === null ? {} : { previousIds: JSON.parse(row.previous_ids) as string[] }),
      });
    }
    return states;
  }

  async write(records: readonly RecordWrite[]): Promise<void> {
    this.writeNow(records);
  }

  async get(scope: RecordScope, externalId: string): Promise<SyncRecord | undefined> {
    const keys = this.scopes.find(scope);
    const row = keys && this.selectOne.get(keys.scopeKey, externalId);
    return row ? this.fromRow(row) : undefined;
  }

  async getWithRevision(scope: RecordScope, externalId: string): Promise<RevisedRecord | undefined> {
    const keys = this.scopes.find(scope);
    const row = keys && this.selectOne.get(keys.scopeKey, externalId);
    return row ? { record: this.fromRow(row), revision: String(row.revision) } : undefined;
  }

  async list(query: RecordListQuery): Promise<RecordPage> {
    if (!Number.isInteger(query.limit) || query.limit < 1) {
      throw new SyncBridgeError('validation', `limit must be a whole number of at least 1, got ${query.limit}.`);
    }
    const limit = Math.min(query.limit, MAX_LIST_LIMIT);
    // Decode first: a malformed cursor is the caller's mistake even when the scope is empty.
    const after = query.cursor === undefined ? undefined : decodeRecordCursor(query.cursor);
    const modifiedAfter = query.modifiedAfter === undefined ? undefined : normaliseTime(query.modifiedAfter, 'modifiedAfter');
    const byEntity = query.entity !== undefined;
    const key = byEntity
      ? this.scopes.find({ tenantId: query.tenantId, connectionId: query.connectionId, entity: query.entity! })?.scopeKey
      : this.scopes.findConnection(query.tenantId, query.connectionId);
    if (key === undefined) return { records: [], nextCursor: null };

    const statement = this.listStatement(byEntity, modifiedAfter !== undefined, after !== undefined, query.includeDeleted ?? true);
    // better-sqlite3 ignores named parameters a statement does not use, so one bundle fits every shape.
    const rows = statement.all({
      key,
      modifiedAfter,
      cursorModifiedAt: after?.lastModifiedAt,
      cursorRowKey: after?.rowKey,
      take: limit + 1, // one more than asked tells whether another page follows
    }) as RecordRow[];
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      records: page.map((row) => this.fromRow(row)),
      nextCursor: rows.length > limit ? encodeRecordCursor({ lastModifiedAt: last.last_modified_at, rowKey: last.row_key }) : null,
    };
  }

  async count(scope: RecordScope, options: { includeDeleted?: boolean } = {}): Promise<number> {
    const keys = this.scopes.find(scope);
    if (!keys) return 0;
    return (options.includeDeleted ? this.countAll : this.countLive).get(keys.scopeKey)!.n;
  }

  async markSeen(runId: string, scope: RecordScope, externalIds: readonly string[]): Promise<void> {
    // The scope may have no records yet (a page of only rejected records, an empty listing); the
    // seen-set still counts, and an empty mark opens it so that the sweep knows the run was here.
    const keys = this.scopes.ensure(scope);
    this.seenSets.mark(runId, keys.scopeKey, JSON.stringify(externalIds));
  }

  async sweepUnseen(runId: string, scope: RecordScope, stepId: string, at: IsoTime, writtenBefore: IsoTime): Promise<number> {
    const keys = this.scopes.find(scope);
    const table = keys && this.seenSets.find(runId, keys.scopeKey);
    if (!keys || !table) throw missingSeenSet(runId, scope);
    const before = normaliseTime(writtenBefore, 'writtenBefore');
    return this.sweepAndCount(runId, table, { scopeKey: keys.scopeKey, connectionKey: keys.connectionKey, stepId, at, writtenBefore: before });
  }

  async clearSeen(runId: string): Promise<void> {
    this.seenSets.drop(runId);
    this.forgetSweeps.run(runId);
  }

  /**
   * The list query has sixteen shapes (entity or not, modifiedAfter or not, cursor or not,
   * tombstones or not); each is prepared on first use and kept, so the planner picks the right
   * index once and no page pays for SQL compilation again.
   */
  private listStatement(byEntity: boolean, modifiedAfter: boolean, afterCursor: boolean, includeDeleted: boolean): Statement {
    const cacheKey = `${byEntity}/${modifiedAfter}/${afterCursor}/${includeDeleted}`;
    let statement = this.listStatements.get(cacheKey);
    if (!statement) {
      const where = [byEntity ? 'scope_key = @key' : 'connection_key = @key'];
      if (modifiedAfter) where.push('last_modified_at > @modifiedAfter');
      if (afterCursor) where.push('(last_modified_at, row_key) > (@cursorModifiedAt, @cursorRowKey)');
      if (!includeDeleted) where.push('deleted = 0');
      statement = this.db.prepare(`SELECT * FROM records WHERE ${where.join(' AND ')} ORDER BY last_modified_at, row_key LIMIT @take`);
      this.listStatements.set(cacheKey, statement);
    }
    return statement;
  }

  private fromRow(row: RecordRow): SyncRecord {
    const scope = this.scopes.describe(row.scope_key);
    return {
      id: row.id,
      tenantId: scope.tenantId,
      connectionId: scope.connectionId,
      entity: scope.entity,
      externalId: row.external_id,
      data: JSON.parse(row.data) as SyncRecord['data'],
      hash: row.hash,
      rawHash: row.raw_hash,
      version: row.version,
      deleted: row.deleted === 1,
      deletedAt: row.deleted_at,
      firstSeenAt: row.first_seen_at,
      lastModifiedAt: row.last_modified_at,
      lastAction: row.last_action,
      sourceUpdatedAt: row.source_updated_at,
      lastStepId: row.last_step_id,
      // Null columns are left out: absent and null mean the same (see SyncRecord).
      ...(row.base === null ? {} : { base: JSON.parse(row.base) as SyncRecord['base'] }),
      ...(row.field_clock === null ? {} : { fieldClock: JSON.parse(row.field_clock) as SyncRecord['fieldClock'] }),
      ...(row.pending_push === null ? {} : { pendingPush: JSON.parse(row.pending_push) as SyncRecord['pendingPush'] }),
      ...(row.moved_to === null ? {} : { movedTo: row.moved_to }),
      ...(row.previous_ids === null ? {} : { previousIds: JSON.parse(row.previous_ids) as string[] }),
    };
  }
}

/**
 * Stored times are toISOString() output (milliseconds, Z) and compare as text; a caller's
 * '2026-03-01T09:00:00Z' would compare wrongly against '2026-03-01T09:00:00.500Z', so query
 * times are brought to the same form first.
 */
/** RecordStore.sweepUnseen: a missing seen-set is never read as "the run saw nothing". */
function missingSeenSet(runId: string, scope: RecordScope): SyncBridgeError {
  return new SyncBridgeError('not_found', `Run ${runId} has no seen-set for ${scope.entity} of connection ${scope.connectionId} (it never marked one, or it was cleared when the run ended); refusing to sweep, which would tombstone every record of the entity.`);
}

function normaliseTime(value: string, name: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new SyncBridgeError('validation', `${name} must be an ISO-8601 time, got ${JSON.stringify(value)}.`);
  return new Date(ms).toISOString();
}

function sameScope(a: RecordScope, b: RecordScope): boolean {
  return a.tenantId === b.tenantId && a.connectionId === b.connectionId && a.entity === b.entity;
}

type UpsertParams = [
  scopeKey: number,
  connectionKey: number,
  externalId: string,
  id: string,
  hash: string,
  rawHash: string | null,
  version: number,
  deleted: number,
  deletedAt: string | null,
  firstSeenAt: string,
  lastModifiedAt: string,
  lastAction: string,
  sourceUpdatedAt: string | null,
  lastStepId: string,
  data: string,
  base: string | null,
  fieldClock: string | null,
  pendingPush: string | null,
  movedTo: string | null,
  previousIds: string | null,
];

function toRow(record: RecordWrite, scopeKey: number, connectionKey: number): UpsertParams {
  return [
    scopeKey,
    connectionKey,
    record.externalId,
    record.id,
    record.hash,
    record.rawHash ?? null,
    record.version,
    record.deleted ? 1 : 0,
    record.deletedAt ?? null,
    record.firstSeenAt,
    record.lastModifiedAt,
    record.lastAction,
    record.sourceUpdatedAt ?? null,
    record.lastStepId,
    record.dataJson ?? JSON.stringify(record.data),
    record.base == null ? null : JSON.stringify(record.base),
    record.fieldClock == null ? null : JSON.stringify(record.fieldClock),
    record.pendingPush == null ? null : JSON.stringify(record.pendingPush),
    record.movedTo ?? null,
    record.previousIds == null ? null : JSON.stringify(record.previousIds),
  ];
}
