import { isSyncBridgeError } from '../errors';
import type { Platform } from '../../ports/platform';
import { QUEUES } from '../../ports/queue';
import { outboundMessage } from './localChanges';
import { conflictIdFor } from './outboundService';

/**
 * A pending push whose conflicting fields a pull or webhook merge settled (applyPage): `agreed`
 * when the record now equals the provider's copy (nothing left to push); else only fields changed
 * here alone are left, which the push can send without a person.
 */
export interface SettledPush {
  externalId: string;
  outboxId: string;
  agreed: boolean;
}

/**
 * Closes the conflicts of parked pushes that a pull or webhook merge settled (applyPage's
 * `settledPushes`), so that none waits for a person who has nothing left to decide:
 *
 * - **agreed**: the provider's copy holds the record's local values (an echo, or the provider took
 *   the same values). The conflict closes as `settled` and its entry is done: nothing to push.
 * - **not agreed**, a `data_mismatch`: the merge settled the fields in conflict (the provider took
 *   the local values there, or the policy now decides them) and only fields changed here alone are
 *   left. The conflict closes as `settled` and the entry is sent again, as a replay is (its replay
 *   count moves on, so a later park of it opens a conflict of its own); the worker reads the
 *   provider and pushes those fields.
 *
 * A refusal of the provider's (validation error, duplicate key) stays for a person unless the
 * provider now holds the local values. A pending entry is the worker's to settle (it closes one
 * whose record no longer names it). A conflict being resolved (claimed) is left to that
 * resolution. Best effort: the record is written already, so a failure here is logged and the
 * conflict stays open for a person, as before; nothing is lost.
 */
export async function settleParkedPushes(platform: Platform, settled: readonly SettledPush[]): Promise<void> {
  for (const push of settled) {
    try {
      await settleOne(platform, push);
    } catch (error) {
      platform.telemetry.log('warn', 'A parked push that a merge settled could not be closed; its conflict stays open for a person.', {
        outboxId: push.outboxId,
        externalId: push.externalId,
        reason: (error as Error).message,
      });
    }
  }
}

async function settleOne(platform: Platform, push: SettledPush): Promise<void> {
  const entry = await platform.outbox.get(push.outboxId);
  if (!entry || entry.state !== 'parked') return;
  const conflict = await platform.conflicts.get(entry.tenantId, conflictIdFor(entry));
  if (conflict?.state !== 'open') return;
  if (!push.agreed && conflict.kind !== 'data_mismatch') return;
  const now = platform.clock.now().toISOString();
  try {
    await platform.conflicts.resolve(entry.tenantId, conflict.id, 'settled', now);
  } catch (error) {
    if (isSyncBridgeError(error, 'conflict')) return; // a person's resolution holds it, or got there first
    throw error;
  }
  platform.telemetry.metric('ConflictsSettled', 1, { connectionId: entry.connectionId, entity: entry.entity, kind: conflict.kind });
  if (push.agreed) {
    await platform.outbox.update(entry.id, { state: 'done', lastError: 'Settled: the provider holds the local values (read by a pull or webhook).' }, now);
    return;
  }
  const replays = (entry.replays ?? 0) + 1;
  // Pending before the send: should the send fail, the relay sends it (relayPending).
  await platform.outbox.update(entry.id, { state: 'pending', attempts: 0, replays, lastError: null, nextAttemptAt: null }, now);
  await platform.queue.send(QUEUES.outbound, outboundMessage(entry, { messageId: `${entry.id}.replay${replays}` }));
}
