import { SyncBridgeError } from './errors';
import type { IsoTime } from './model';
import type { Conflict, ConflictClaim, ConflictResolution } from '../ports/conflictStore';

/**
 * The rules of the ConflictStore's claim and resolve (shared/ports/conflictStore.ts), kept in one
 * place so every store decides the same way; the stores only make the read-check-write atomic.
 */

/** A claim that still holds at `at`: its resolver may still be writing. */
function isLive(claim: ConflictClaim | null | undefined, at: IsoTime): claim is ConflictClaim {
  return !!claim && Date.parse(claim.until) > Date.parse(at);
}

function refuseUnlessOpen(current: Conflict): void {
  if (current.state !== 'open') throw new SyncBridgeError('conflict', `Conflict ${current.id} is ${current.state} already; only open conflicts can be resolved.`);
}

function refuseLiveClaimOfAnother(current: Conflict, by: string | undefined, at: IsoTime): void {
  if (isLive(current.claim, at) && current.claim.by !== by) {
    throw new SyncBridgeError('conflict', `Conflict ${current.id} is being resolved by another request (until ${current.claim.until}); look at it again once that one is done.`);
  }
}

/** Without the claim: a conflict that was never claimed reads back as it was opened. */
function withoutClaim(conflict: Conflict): Conflict {
  const { claim: _claim, ...rest } = conflict;
  return rest;
}

/** `current` as `claim` leaves it, or the refusal. */
export function claimed(current: Conflict, claim: ConflictClaim, at: IsoTime): Conflict {
  refuseUnlessOpen(current);
  refuseLiveClaimOfAnother(current, claim.by, at);
  return { ...current, claim: { by: claim.by, until: claim.until } };
}

/** `current` as `resolve` leaves it, or the refusal. */
export function resolved(current: Conflict, resolution: ConflictResolution, at: IsoTime, claimedBy?: string): Conflict {
  refuseUnlessOpen(current);
  refuseLiveClaimOfAnother(current, claimedBy, at);
  return { ...withoutClaim(current), state: 'resolved', resolution, resolvedAt: at, updatedAt: at };
}

/** `current` as `release` by `by` leaves it; null when there is nothing of `by`'s to release. */
export function released(current: Conflict, by: string): Conflict | null {
  return current.state === 'open' && current.claim?.by === by ? withoutClaim(current) : null;
}
