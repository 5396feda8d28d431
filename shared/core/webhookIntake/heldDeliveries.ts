import type { Platform } from '../../ports/platform';
import { SyncBridgeError } from '../errors';
import type { Connection } from '../model';
import { enqueueAgain } from './enqueueAgain';

/** Held deliveries enqueued again per store read on resume. */
const RELEASE_PAGE = 100;

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
