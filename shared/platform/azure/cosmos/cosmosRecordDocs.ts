import { createHash } from 'node:crypto';
import { SyncBridgeError } from '../../../core/errors';
import type { SyncRecord } from '../../../core/model';
import type { RecordWrite } from '../../../ports/recordStore';
import { withoutSystemFields } from './cosmosCalls';

/**
 * What the `records` container holds for one connection (partition key [tenantId, connectionId]):
 * - `record`: a SyncRecord as is, plus `sortKey` = `lastModifiedAt|id`, the one range-indexed field
 *   the keyset listing orders by (no composite index needed);
 * - `outbox`: an OutboxEntry (cosmosOutboxStore.ts), written in one batch with its record;
 * - `seen`: the external ids one markSeen call saw in a full run (cosmosSeenSets.ts);
 * - `sweep`: the count a run's deletion sweep returned, so that a replay returns it again.
 */
export type RecordDocType = 'record' | 'outbox' | 'seen' | 'sweep';

export interface RecordDoc extends SyncRecord {
  docType: 'record';
  sortKey: string;
}

export function toRecordDoc(record: RecordWrite): RecordDoc {
  const { dataJson: _json, ifRevision: _condition, ...rest } = record;
  const doc: RecordDoc = { ...rest, docType: 'record', sortKey: sortKeyOf(record.lastModifiedAt, record.id) };
  // Null and absent mean the same; absent keeps documents small.
  if (doc.base == null) delete doc.base;
  if (doc.fieldClock == null) delete doc.fieldClock;
  if (doc.pendingPush == null) delete doc.pendingPush;
  if (doc.movedTo == null) delete doc.movedTo;
  if (doc.previousIds == null) delete doc.previousIds;
  return doc;
}

export function fromRecordDoc(doc: RecordDoc): SyncRecord {
  const { docType: _type, sortKey: _sort, ...record } = withoutSystemFields(doc);
  return record;
}

/** Times are stored as toISOString() output, so text order is time order. */
export function sortKeyOf(lastModifiedAt: string, id: string): string {
  return `${normaliseTime(lastModifiedAt, 'lastModifiedAt')}|${id}`;
}

export function normaliseTime(value: string, name: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new SyncBridgeError('validation', `${name} must be an ISO-8601 time, got ${JSON.stringify(value)}.`);
  return new Date(ms).toISOString();
}

const CURSOR_PREFIX = 'c1.';

export function encodeListCursor(sortKey: string): string {
  return CURSOR_PREFIX + Buffer.from(sortKey, 'utf8').toString('base64url');
}

export function decodeListCursor(cursor: string): string {
  const sortKey = cursor.startsWith(CURSOR_PREFIX) ? Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString('utf8') : '';
  if (!/^\d{4}-\d\d-\d\dT[\d:.]+Z\|.+/.test(sortKey)) throw new SyncBridgeError('validation', 'cursor is not one this store issued.');
  return sortKey;
}

/** A short, stable id for a document derived from its parts (seen sets, sweep memos). */
export function derivedId(prefix: string, ...parts: string[]): string {
  return `${prefix}_${createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 40)}`;
}
