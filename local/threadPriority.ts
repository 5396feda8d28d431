import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** The applier thread's default niceness above the process's: receipt, on the main thread, comes first. */
export const DEFAULT_APPLIER_NICENESS = 10;

/** What setThreadNiceness did. */
export type ThreadNicenessResult =
  | { applied: true; systemThreadId: number; from: number; to: number }
  | { applied: false; reason: string };

/**
 * Lowers the calling thread's scheduling priority by `niceness` steps (0 leaves it; the result is
 * capped at 19, the lowest), relative to the niceness it has now, which it inherited from the
 * thread that created it. On Linux every thread is a task with its own niceness: its id is read
 * from /proc/thread-self, and setpriority on that id touches this thread only (and the threads it
 * creates afterwards, which inherit it). Lowering a priority needs no privilege. Where threads
 * cannot be told apart (other systems, no /proc) or the call is refused, nothing changes and the
 * reason is returned.
 */
export function setThreadNiceness(niceness: number): ThreadNicenessResult {
  if (!Number.isInteger(niceness) || niceness < 0 || niceness > 19) throw new RangeError(`niceness must be a whole number from 0 to 19, got ${niceness}.`);
  let systemThreadId: number;
  try {
    systemThreadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return { applied: false, reason: 'this system gives a thread no priority of its own (no /proc/thread-self)' };
  }
  if (!Number.isInteger(systemThreadId) || systemThreadId <= 0) return { applied: false, reason: 'the thread id in /proc/thread-self is unreadable' };
  try {
    const from = getPriority(systemThreadId);
    const to = Math.min(19, from + niceness);
    if (to !== from) setPriority(systemThreadId, to);
    return { applied: true, systemThreadId, from, to };
  } catch (error) {
    return { applied: false, reason: `setting it was refused (${(error as Error).message})` };
  }
}
