import type { Platform } from '../../ports/platform';
import { QUEUES } from '../../ports/queue';
import { SyncBridgeError } from '../errors';
import type { Connection } from '../model';
import type { HeldSweepMessage } from '../runs/inboundMessage';
import { enqueueAgain } from './enqueueAgain';

/** Held deliveries enqueued again per store read on resume. */
const RELEASE_PAGE = 100;

/**
 * How long after a resume its held sweep runs (scheduleHeldSweep). The hand-off it backs up is
 * safe when a read trails the writes before it by less than half of this (15 s): see sweepHeld.
 */
export const HELD_SWEEP_DELAY_MS = 30_000;

/**
 * Whether the connection's webhook events wait instead of being applied. Only `paused`: an
 * operator stopped the connection and will resume it, which releases them (releaseHeld). Events
 * of a connection parked for reauthorization still apply (they carry their record; an id-only
 * one fails with what to do, applier.ts), as nothing would release them at the reconnect.
 */
export function holdsDeliveries(connection: Pick<Connection, 'status'>): boolean {
  return connection.status === 'paused';
}

/** What a held delivery's `detail` says: what it waits for, and what ends the wait. */
export function heldDeliveryReason(connectionId: string): string {
  return `Waiting for connection ${connectionId} to be resumed: it is paused. The delivery is applied once the connection is resumed (POST /api/connections/${connectionId}/resume).`;
}

/**
 * Enqueues a resumed connection's held deliveries again, oldest first (receipt order), each as a
 * replay (enqueueAgain.ts): one after another into the connection's session, so the worker
 * applies them in that order. Returns how many. When the queue refuses one, it stays held (with
 * the ones after it) and this fails with `transient`: resuming again releases the rest.
 */
export async function releaseHeld(platform: Platform, connection: Pick<Connection, 'id' | 'tenantId'>): Promise<number> {
  let released = 0;
  const sent = new Set<string>();
  for (;;) {
    // A delivery held again meanwhile (the connection paused again) waits for the next resume.
    const held = (await platform.deliveries.listHeld(connection.tenantId, connection.id, RELEASE_PAGE)).filter((d) => !sent.has(d.id));
    if (held.length === 0) return released;
    for (const delivery of held) {
      sent.add(delivery.id);
      if ((await enqueueAgain(platform, delivery)) === 'refused') {
        throw new SyncBridgeError('transient', `Connection ${connection.id} is resumed, but the queue did not accept its held delivery ${delivery.id}: it and the deliveries received after it are still held (${released} enqueued). Resume the connection again to enqueue them.`, { forCaller: true });
      }
      released += 1;
    }
  }
}

/**
 * Schedules the resume's second release (sweepHeld), HELD_SWEEP_DELAY_MS from now, in the
 * connection's session of sync-inbound. One message per resume, none while the connection stays
 * paused. A new message id per resume (its time), so that the broker's duplicate detection does
 * not drop the sweep of a resume that follows another within its window.
 */
export async function scheduleHeldSweep(platform: Platform, connectionId: string): Promise<void> {
  const now = platform.clock.now().getTime();
  const message: HeldSweepMessage = { kind: 'held-sweep', connectionId };
  await platform.queue.send(QUEUES.inbound, {
    body: message,
    messageId: `held-sweep:${connectionId}:${now}`,
    sessionId: connectionId,
    scheduledEnqueueTime: new Date(now + HELD_SWEEP_DELAY_MS),
    applicationProperties: { kind: 'held-sweep' },
  });
}

/**
 * The resume's second release, HELD_SWEEP_DELAY_MS after it: enqueues the deliveries still held
 * if the connection no longer holds them (releaseHeld), else nothing (paused again: the next
 * resume releases them, and sweeps again). Returns how many it released.
 *
 * Why: the worker's hold (write the delivery `held`, then read the connection again, applier.ts)
 * and the resume (write the connection active, then list the held deliveries) each rely on seeing
 * the other's write. On a store whose reads may trail the writes (Cosmos DB at Session
 * consistency, the worker and the admin API being different clients), both reads can miss, and
 * the delivery would stay held on an active connection with nothing left to release it. Say reads
 * trail by at most S. The worker's read of the connection missed the resume's write, so it ran
 * less than S after that write, and its `held` write came before it. This sweep reads at least
 * HELD_SWEEP_DELAY_MS after the resume's write: more than 2·S after it, it sees both the
 * connection active and the delivery held. So with S under 15 s, no delivery stays held on an
 * active connection longer than HELD_SWEEP_DELAY_MS (plus the queue's own lag) after the resume.
 */
export async function sweepHeld(platform: Platform, message: HeldSweepMessage): Promise<number> {
  const connection = await platform.connections.get(message.connectionId);
  if (!connection || holdsDeliveries(connection)) return 0;
  const released = await releaseHeld(platform, connection);
  if (released > 0) {
    // The resume's own release missed these: a stale read, as above. Worth seeing when it happens.
    platform.telemetry.log('info', 'Held webhook deliveries released by the sweep after a resume.', { connectionId: connection.id, released });
    platform.telemetry.metric('WebhookHeldReleasedBySweep', released, { connectionId: connection.id });
  }
  return released;
}
