import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { isProcessAlive } from './processAlive';

/**
 * Lock owners. Every SqliteQueue instance writes its owner id beside each lock it takes:
 * `<hostname>/<pid>/<instance>`. After a kill -9 the locks of the dead process would otherwise
 * block its messages and sessions until they expire (a minute by default); with the owner id a new
 * host can tell, at start, which locks nobody can ever complete and release them at once.
 */

const thisHost = hostname();

/** Owner ids of the SqliteQueue instances of this process whose database is still open. */
const liveOwnersInThisProcess = new Map<string, () => boolean>();

export function newOwnerId(): string {
  return `${thisHost}/${process.pid}/${randomUUID().slice(0, 8)}`;
}

export function registerLiveOwner(ownerId: string, isOpen: () => boolean): void {
  liveOwnersInThisProcess.set(ownerId, isOpen);
}

export function unregisterLiveOwner(ownerId: string): void {
  liveOwnersInThisProcess.delete(ownerId);
}

/**
 * Whether no live process can hold locks under this owner id any more. Owners on another machine
 * (a shared network file) are never judged orphaned: only their lock expiry frees them.
 */
export function isOrphanedOwner(ownerId: string): boolean {
  const [host, pidText] = ownerId.split('/');
  if (host !== thisHost) return false;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) {
    const isOpen = liveOwnersInThisProcess.get(ownerId);
    return isOpen === undefined || !isOpen();
  }
  return !isProcessAlive(pid);
}
