import { SyncBridgeError } from '../../core/errors';

/** The position after the last record of a page, in list order (lastModifiedAt, row key). */
export interface RecordCursorPosition {
  lastModifiedAt: string;
  /** The record row's stable integer key; it breaks ties between equal lastModifiedAt values. */
  rowKey: number;
}

/**
 * Cursors are opaque to callers (base64url of a small JSON array), so that the keyset behind them
 * can change without breaking clients.
 */
export function encodeRecordCursor(position: RecordCursorPosition): string {
  return Buffer.from(JSON.stringify([position.lastModifiedAt, position.rowKey]), 'utf8').toString('base64url');
}

export function decodeRecordCursor(cursor: string): RecordCursorPosition {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  if (!Array.isArray(decoded) || decoded.length !== 2 || typeof decoded[0] !== 'string' || !Number.isSafeInteger(decoded[1])) {
    throw new SyncBridgeError('validation', 'cursor is not one this store returned; pass nextCursor from the previous page unchanged.');
  }
  return { lastModifiedAt: decoded[0], rowKey: decoded[1] as number };
}
