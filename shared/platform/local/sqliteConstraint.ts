/**
 * better-sqlite3 reports constraint failures as SqliteError with a `code` such as
 * SQLITE_CONSTRAINT_PRIMARYKEY or SQLITE_CONSTRAINT_UNIQUE. Stores turn those into
 * SyncBridgeError('conflict'); anything else is a real failure and is rethrown as is.
 */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
