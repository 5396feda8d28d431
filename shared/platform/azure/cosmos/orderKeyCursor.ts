import { SyncBridgeError } from '../../../core/errors';

/**
 * Opaque list cursors over an order key (outbox, conflicts, deliveries): `<tag>:<key>`, base64url.
 * A cursor with another tag, or none, is a validation error naming it as foreign.
 */
export function encodeOrderKeyCursor(tag: string, orderKey: string): string {
  return Buffer.from(`${tag}:${orderKey}`).toString('base64url');
}

export function decodeOrderKeyCursor(tag: string, cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(`${tag}:`) || text.length <= tag.length + 1) throw new SyncBridgeError('validation', 'cursor is not one this API handed out.');
  return text.slice(tag.length + 1);
}
