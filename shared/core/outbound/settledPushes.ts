import { isSyncBridgeError } from '../errors';
import type { Conflict } from '../../ports/conflictStore';
import type { OutboxEntry } from '../../ports/outboxStore';
import type { Platform } from '../../ports/platform';
import { QUEUES } from '../../ports/queue';
import { outboundMessage } from './localChanges';
import { conflictIdFor } from './outboundService';

/**
 * A pending push whose conflicting fields a pull or webhook merge settled (applyPage): `agreed`
 * when the record now equals the provider's copy (nothing left to push); else only fields changed
 * here alone are left, which the push can send without a person. `version`: the record's version
 * that merge wrote.
 */
export interface SettledPush {
  externalId: string;
  outboxId: string;
  version: number;
  agreed: boolean;
}

/**
 * Closes the conflicts of parked updates that a pull or webhook merge settled (applyPage's
 * `settledPushes`), so that none waits for a person who has nothing left to decide:
 *
 * - **agreed**: the provider's copy holds the record's values (the provider took the same values,
 *   or the policy gave the fields to the provider). The entry is done, nothing is pushed, and the
 *   conflict closes as `settled`.
 * - **not agreed**, a `data_mismatch`: the merge settled the fields in conflict and only fields
 *   changed here alone are left. The entry is sent again, as a replay is (its replay count moves
 *   on, so a later park of it opens a conflict of its own), and the conflict closes as `settled`;
 *   the worker reads the provider and pushes those fields.
 *
 * Only updates: a parked create's `data_mismatch` says the record may exist there under an id
 * unknown here, which no pull settles. A refusal of the provider's (validation error, duplicate
 * key) stays for a person unless the provider now holds the record's values. A pending entry is
 * the worker's to settle; a dead letter waits for its replay. Each is judged on the record as the
 * merge left it (same version, same pending push): anything since — a newer merge, a local change,
 * a resolution — decides for itself. A conflict being resolved (claimed) is left to that resolution.
 *
 * The entry moves first, then the conflict: should the second step fail, the conflict stays open
 * with nothing stranded (a person resolving it finds the record agreed, or its push on its way);
 * the other order could leave a closed conflict in front of a parked entry that nothing sends.
 * Best effort: the record is written already; a failure is logged.
 */
export async function settleParkedPushes(platform: Platform, settled: readonly SettledPush[]): Promise<void> {
  // Each record on its own, all at once: most are pending, not parked, and cost one read.
  await Promise.all(settled.map(async (push) => {
    try {
      await settleOne(platform, push);
    } catch (error) {
      platform.telemetry.log('warn', 'A parked push that a merge settled could not be closed; its conflict stays open for a person.', {
        outboxId: push.outboxId,
        externalId: push.externalId,
        reason: (error as Error).message,
      });
    }
  }));
}

async function settleOne(platform: Platform, push: SettledPush): Promise<void> {
  const entry = await platform.outbox.get(push.outboxId);
  if (!entry || entry.state !== 'parked' || entry.op !== 'update') return;
  const conflict = await platform.conflicts.get(entry.tenantId, conflictIdFor(entry));
  if (conflict?.state !== 'open') return;
  if (!push.agreed && conflict.kind !== 'data_mismatch') return;
  const now = platform.clock.now();
  if (conflict.claim && Date.parse(conflict.claim.until) > now.getTime()) return;
  const record = await platform.records.get({ tenantId: entry.tenantId, connectionId: entry.connectionId, entity: entry.entity }, entry.externalId);
  if (!record || record.version !== push.version || (record.pendingPush?.outboxId ?? null) !== (push.agreed ? null : entry.id)) return;
  const at = now.toISOString();
  if (push.agreed) await platform.outbox.update(entry.id, { state: 'done', lastError: 'Settled: a pull or webhook found the provider holding the record as it is here.' }, at);
  else await sendAgain(platform, entry, at);
  await closeSettled(platform, entry, conflict, at);
}

/** Pending before the send: should the send fail, the relay sends it (relayPending). */
async function sendAgain(platform: Platform, entry: OutboxEntry, at: string): Promise<void> {
  const replays = (entry.replays ?? 0) + 1;
  await platform.outbox.update(entry.id, { state: 'pending', attempts: 0, replays, lastError: null, nextAttemptAt: null }, at);
  await platform.queue.send(QUEUES.outbound, outboundMessage(entry, { messageId: `${entry.id}.replay${replays}` }));
}

async function closeSettled(platform: Platform, entry: OutboxEntry, conflict: Conflict, at: string): Promise<void> {
  try {
    await platform.conflicts.resolve(entry.tenantId, conflict.id, 'settled', at);
  } catch (error) {
    // A person's resolution took it meanwhile: theirs stands (it reads the record as this left it).
    if (isSyncBridgeError(error, 'conflict')) return;
    throw error;
  }
  platform.telemetry.metric('ConflictsSettled', 1, { connectionId: entry.connectionId, entity: entry.entity, kind: conflict.kind });
}
