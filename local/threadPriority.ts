import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The applier thread's default niceness: receipt, on the main thread, comes first. */
export const DEFAULT_APPLIER_NICENESS = 10;

/**
 * Gives the calling thread its own scheduling priority (`niceness`, 0 as now … 19 lowest), and
 * returns its system thread id. On Linux every thread is a task with its own niceness: the id is
 * read from /proc/thread-self, and setpriority on it touches this thread only. Where threads
 * cannot be told apart (other systems, a /proc that is not mounted), nothing changes and the
 * answer is undefined. Lowering a priority needs no privilege.
 */
export function setThreadNiceness(niceness: number): { systemThreadId: number; niceness: number } | undefined {
  if (!Number.isInteger(niceness) || niceness < 0 || niceness > 19) throw new RangeError(`niceness must be a whole number from 0 to 19, got ${niceness}.`);
  let systemThreadId: number;
  try {
    systemThreadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(systemThreadId) || systemThreadId <= 0) return undefined;
  try {
    setPriority(systemThreadId, niceness);
  } catch {
    return undefined;
  }
  return { systemThreadId, niceness };
}
