import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ManualClock } from '../../shared/core/manualClock';
import { openDatabase, type SqliteDatabase } from '../../shared/platform/local/database';
import { JsonLinesTelemetry } from '../../shared/platform/local/jsonLinesTelemetry';
import { SqliteConflictStore } from '../../shared/platform/local/sqliteConflictStore';
import { SqliteConnectionStore } from '../../shared/platform/local/sqliteConnectionStore';
import { SqliteDeliveryStore } from '../../shared/platform/local/sqliteDeliveryStore';
import { SqliteIdempotencyStore } from '../../shared/platform/local/sqliteIdempotencyStore';
import { SqliteLeaseStore } from '../../shared/platform/local/sqliteLeaseStore';
import { SqliteOutboxStore } from '../../shared/platform/local/sqliteOutboxStore';
import { SqliteRecordStore } from '../../shared/platform/local/sqliteRecordStore';
import { SqliteRunStore } from '../../shared/platform/local/sqliteRunStore';
import { SqliteSecretStore } from '../../shared/platform/local/sqliteSecretStore';
import { SqliteTenantStore } from '../../shared/platform/local/sqliteTenantStore';
import { enableTurnCommit } from '../../shared/platform/local/turnCommit';
import { conflictStoreConformance } from './conflictStore.conformance';
import { connectionStoreConformance } from './connectionStore.conformance';
import { deliveryStoreConformance } from './deliveryStore.conformance';
import type { StoreFixture } from './fixtures';
import { idempotencyStoreConformance } from './idempotencyStore.conformance';
import { leaseStoreConformance } from './leaseStore.conformance';
import { outboxStoreConformance } from './outboxStore.conformance';
import { recordStoreConformance } from './recordStore.conformance';
import { runStoreConformance } from './runStore.conformance';
import { secretStoreConformance } from './secretStore.conformance';
import { telemetryConformance } from './telemetry.conformance';
import { tenantStoreConformance } from './tenantStore.conformance';

/**
 * Every port suite against the embedded (SQLite) implementations, each test on a fresh database
 * file in its own temp folder, closed and removed afterwards; twice: on a handle that commits each
 * write, and on one that commits once per event-loop turn, as the local platform runs them
 * (turnCommit.ts).
 */
type CommitMode = 'per write' | 'per turn';

function sqliteFixture<S>(mode: CommitMode, build: (db: SqliteDatabase, clock: ManualClock, dir: string) => S): () => Promise<StoreFixture<S>> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncbridge-conformance-'));
    const db = openDatabase(join(dir, 'syncbridge.db'));
    if (mode === 'per turn') enableTurnCommit(db);
    const clock = new ManualClock();
    return {
      store: build(db, clock, dir),
      clock,
      cleanup: async () => {
        db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

for (const mode of ['per write', 'per turn'] as const) {
  recordStoreConformance(`SqliteRecordStore (commit ${mode})`, sqliteFixture(mode, (db) => new SqliteRecordStore(db)));
  conflictStoreConformance(`SqliteConflictStore (commit ${mode})`, sqliteFixture(mode, (db) => new SqliteConflictStore(db)));
  outboxStoreConformance(`SqliteOutboxStore (commit ${mode})`,
    sqliteFixture(mode, (db) => {
      const records = new SqliteRecordStore(db);
      return { records, outbox: new SqliteOutboxStore(db, records) };
    }),
  );
  runStoreConformance(`SqliteRunStore (commit ${mode})`, sqliteFixture(mode, (db) => new SqliteRunStore(db)));
  connectionStoreConformance(`SqliteConnectionStore (commit ${mode})`, sqliteFixture(mode, (db) => new SqliteConnectionStore(db)));
  tenantStoreConformance(`SqliteTenantStore (commit ${mode})`, sqliteFixture(mode, (db) => new SqliteTenantStore(db)));
  secretStoreConformance(`SqliteSecretStore (commit ${mode})`, sqliteFixture(mode, (db, clock) => new SqliteSecretStore(db, randomBytes(32), { clock })));
  leaseStoreConformance(`SqliteLeaseStore (commit ${mode})`, sqliteFixture(mode, (db, clock) => new SqliteLeaseStore(db, { clock })));
  idempotencyStoreConformance(`SqliteIdempotencyStore (commit ${mode})`, sqliteFixture(mode, (db, clock) => new SqliteIdempotencyStore(db, { clock })));
  deliveryStoreConformance(`SqliteDeliveryStore (commit ${mode})`, sqliteFixture(mode, (db) => new SqliteDeliveryStore(db)), { keep: 5, factory: sqliteFixture(mode, (db) => new SqliteDeliveryStore(db, { retainPerConnection: 5, purgeEveryInserts: 2 })) });
}

telemetryConformance('JsonLinesTelemetry', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const clock = new ManualClock();
  const secretValueBounds = { retentionMs: 60_000, maxValues: 1000, clock };
  const telemetry = new JsonLinesTelemetry({ sink, level: 'debug', clock, secretValueRetentionMs: secretValueBounds.retentionMs, maxSecretValues: secretValueBounds.maxValues });
  return {
    telemetry,
    secretValueBounds,
    readEmitted: async () => lines.join(''),
    cleanup: async () => {
      sink.destroy();
    },
  };
});
