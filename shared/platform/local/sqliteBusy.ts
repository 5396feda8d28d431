import { SyncBridgeError } from '../../core/errors';

/**
 * SQLite's "the file is locked" codes: another connection (another process on the same file, or
 * a tool) held the write lock for longer than the busy timeout. SQLITE_BUSY_SNAPSHOT and
 * SQLITE_BUSY_TIMEOUT are extended codes of the same failure; SQLITE_LOCKED is a lock held inside
 * this connection's shared cache.
 */
export function isSqliteBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/**
 * A lock held too long passes once its holder commits, so callers should retry it like any other
 * transient failure (a push backs off and tries again, and is labelled `retries_exhausted`, not
 * `internal_error`, if it never passes). Anything else is returned unchanged.
 */
export function busyAsTransient(error: unknown): unknown {
  if (!isSqliteBusy(error)) return error;
  return new SyncBridgeError('transient', `The local store's database file was locked by another connection for longer than its busy timeout (${(error as { code: string }).code}); try again.`, { cause: error });
}
