import { createHash } from 'node:crypto';

/**
 * A Cosmos DB document id for an arbitrary key (lease names, idempotency keys, tenant ids): the key
 * itself when it is short and uses only safe characters, else a SHA-256 of it. Cosmos ids may not
 * hold '/', '\', '?' or '#' and are at most 255 characters. The original key is always stored in
 * the document too.
 */
export function safeDocId(prefix: string, key: string): string {
  if (/^[A-Za-z0-9_.:@=+-]{1,200}$/.test(key)) return `${prefix}:${key}`;
  // '-h:' cannot come out of the first form (':' follows the prefix there): no collisions between the two.
  return `${prefix}-h:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}
