import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentHash } from '../../shared/core/hash';
import { recordId } from '../../shared/core/ids';
import type { JsonObject, RecordScope, SyncRecord } from '../../shared/core/model';
import { openDatabase, type SqliteDatabase } from '../../shared/platform/local/database';
import type { OutboundService, PushOutcome } from '../../shared/core/outbound/outboundService';
import type { Clock } from '../../shared/ports/clock';
import type { OutboxStore } from '../../shared/ports/outboxStore';
import type { RecordStore } from '../../shared/ports/recordStore';

/** A fresh directory for one test's SQLite file; remove() deletes it. */
export function tempDirectory(prefix = 'syncbridge-local-'): { path: string; dbPath: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, dbPath: join(path, 'syncbridge.db'), remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function openTempDatabase(): { db: SqliteDatabase; dbPath: string; cleanup(): void } {
  const dir = tempDirectory();
  const db = openDatabase(dir.dbPath);
  return {
    db,
    dbPath: dir.dbPath,
    cleanup: () => {
      if (db.open) db.close();
      dir.remove();
    },
  };
}

/** A clock that stands still until moved. */
export class ManualClock implements Clock {
  constructor(private current = new Date('2030-01-01T00:00:00.000Z')) {}
  now(): Date {
    return new Date(this.current.getTime());
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

/** Polls until the check returns a value other than undefined/false, or fails after timeoutMs. */
export async function waitFor<T>(check: () => T | undefined | false, timeoutMs = 5_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise with its resolve function, for handlers that a test releases by hand. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Stores a provider's record as a pull would (version 1, stamped `pull`) and returns it. */
export async function storePulled(records: RecordStore, scope: RecordScope, externalId: string, data: JsonObject & { updated_at: string }): Promise<SyncRecord> {
  const record: SyncRecord = {
    ...scope, id: recordId(scope.tenantId, scope.connectionId, scope.entity, externalId), externalId, data, hash: contentHash(data), rawHash: null, version: 1,
    deleted: false, deletedAt: null, firstSeenAt: data.updated_at, lastModifiedAt: data.updated_at, lastAction: 'added', sourceUpdatedAt: data.updated_at, lastStepId: 'pull',
  };
  await records.write([record]);
  return record;
}

/**
 * The outbound worker handling a record's pending push as the broker delivers it: once a retry is
 * scheduled, that retry's own message, which names its due time (OutboundMessage.dueAt). Tests that
 * drive the worker by hand call this rather than building messages, so they send what the queue would.
 */
export async function deliverPush(outbox: OutboxStore, outbound: Pick<OutboundService, 'handle'>, record: SyncRecord): Promise<PushOutcome> {
  const outboxId = record.pendingPush!.outboxId;
  const dueAt = (await outbox.get(outboxId))?.nextAttemptAt;
  return outbound.handle(dueAt ? { outboxId, dueAt } : { outboxId });
}
