import { SandboxEntity, parseRecordId, recordId } from './entities';
import { formatSecond, parseIsoMs } from './timeline';

/**
 * A position in a listing. Listings are ordered by (updated_at second, id); since ids are
 * fixed-width and index-based, (second, index) orders the same way and compares as numbers.
 */
export interface ListingKey {
  second: number;
  index: number;
}

export function compareKeys(a: ListingKey, b: ListingKey): number {
  return a.second !== b.second ? a.second - b.second : a.index - b.index;
}

/**
 * The cursor is an opaque keyset token: base64url of `<updated_at>|<id>` of the last record of
 * the page. Resuming "after this key" rather than "at offset n" is what makes a record updated
 * mid-scan move behind the cursor and be served again instead of shifting the pages and
 * being skipped.
 */
export function encodeCursor(entity: SandboxEntity, key: ListingKey): string {
  return Buffer.from(`${formatSecond(key.second)}|${recordId(entity, key.index)}`, 'utf8').toString('base64url');
}

/** The key inside a cursor of this entity, or undefined when the token is not one. */
export function decodeCursor(entity: SandboxEntity, token: string): ListingKey | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const [updatedAt, id, ...rest] = Buffer.from(token, 'base64url').toString('utf8').split('|');
  if (rest.length > 0 || updatedAt === undefined || id === undefined) return undefined;
  const ms = parseIsoMs(updatedAt);
  const index = parseRecordId(entity, id);
  if (ms === undefined || ms % 1000 !== 0 || index === undefined) return undefined;
  return { second: ms / 1000, index };
}
