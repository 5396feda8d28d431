import type { DeliveryStore } from '../../ports/deliveryStore';
import type { Delivery } from '../../ports/deliveryStore';
import type { IsoTime, SyncRecord } from '../model';

/** The delivery a webhook step id names: `webhook:<delivery id>[:<entity>][:r<replay>]`. */
const WEBHOOK_STEP = /^webhook:(dlv_[A-Za-z0-9_-]+)(?::|$)/;

/**
 * The time a record state carried by an event stands for. A deletion that names no time (a
 * Shopify `*\/delete` without its `X-Shopify-Triggered-At`, a Graph `deleted` notification) stands
 * for the moment it was received: the record was gone by then. Without a time, the tombstone could
 * not tell a later-arriving older update that it came too late.
 */
export function eventTime(updatedAt: string | null, deleted: boolean, delivery: Pick<Delivery, 'receivedAt'>): string | null {
  return updatedAt ?? (deleted ? delivery.receivedAt : null);
}

/**
 * Why an event's record state must not be applied over the stored one, or undefined to apply it.
 *
 * Deliveries of a connection are applied in order of receipt (one session), but providers do not
 * promise to send them in order (Stripe), a retry or a replay arrives late, and most stamp whole
 * seconds. So:
 * - a state strictly older than the stored one is stale;
 * - a state of the same time as a stored deletion is stale, unless that deletion is this very
 *   delivery's (a replay): a deleted record does not come back, and an event stamped with the
 *   deletion's time was made before it, whatever the order of receipt (GitHub's `issues.deleted`
 *   carries the last `updated_at`, the very time of the last edit's own event);
 * - a state of the same time as the stored one, which a delivery received *after* this one
 *   wrote, is stale too: the two are ordered by receipt, the only order left. A replay of the
 *   first of two same-second events therefore no longer rolls the record back. (Two such events
 *   that arrive out of order cannot be told apart; the later-received one wins.)
 * A deletion is stored with its time even for a record the store did not hold (applyPage's
 * `keepDeletionTimes`), so a create that arrives after the deletion of its record is stale too.
 * Otherwise records written by a sync run, or states without a time, are applied as before.
 */
export async function staleReason(
  deliveries: Pick<DeliveryStore, 'get'>,
  delivery: Pick<Delivery, 'id' | 'receivedAt'>,
  updatedAt: IsoTime | null,
  stored: Pick<SyncRecord, 'sourceUpdatedAt' | 'lastStepId' | 'deleted'> | undefined,
): Promise<string | undefined> {
  if (!stored?.sourceUpdatedAt || !updatedAt) return undefined;
  const incoming = Date.parse(updatedAt);
  const current = Date.parse(stored.sourceUpdatedAt);
  if (incoming < current) return `Stale: the store holds a newer state (${stored.sourceUpdatedAt}).`;
  if (incoming > current) return undefined;
  const writerId = WEBHOOK_STEP.exec(stored.lastStepId ?? '')?.[1];
  if (writerId === delivery.id) return undefined;
  if (stored.deleted) return `Stale: the store holds a deletion of the same time (${stored.sourceUpdatedAt}).`;
  if (!writerId) return undefined;
  const writer = await deliveries.get(writerId);
  if (!writer || Date.parse(writer.receivedAt) <= Date.parse(delivery.receivedAt)) return undefined;
  return `Stale: the store holds a state of the same time (${stored.sourceUpdatedAt}) from a delivery received later (${writer.id}).`;
}
