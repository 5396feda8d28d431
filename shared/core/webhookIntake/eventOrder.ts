import type { DeliveryStore } from '../../ports/deliveryStore';
import type { Delivery } from '../../ports/deliveryStore';
import type { IsoTime, RecordState } from '../model';

/** The delivery a webhook step id names: `webhook:<delivery id>[:<entity>][:r<replay>]`. */
const WEBHOOK_STEP = /^webhook:(dlv_[A-Za-z0-9_-]+)(?::|$)/;
/** Every webhook step id starts so (the applier's `webhook:{deliveryId}`); a cheap test per record. */
const WEBHOOK_STEP_PREFIX = 'webhook:';

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
  stored: Pick<RecordState, 'sourceUpdatedAt' | 'lastStepId' | 'deleted'> | undefined,
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

/**
 * Whether a state a sync run pulled is older than the stored one and must not be applied over it.
 * A run applies a page some time after listing it (a page read ahead is kept up to 30 s, see
 * PagePrefetcher), and a webhook may have stored a newer state of one of its records meanwhile:
 * applying the page would roll the record back, or bring a deleted one back to life. So, by the
 * provider's times (`updatedAt` of the pulled state, `sourceUpdatedAt` of the stored one):
 * - over a state a webhook stored (live or a deletion), a pulled state strictly older is stale,
 *   and so is one of the same time: providers stamp whole seconds, the webhook's state was ordered
 *   against the others by receipt (staleReason), and the page may have been listed before that
 *   state existed. (GitHub stamps `issues.deleted` with the last `updated_at`, the time a
 *   listing made before the delete shows.) A later change of the same second that reaches us only
 *   through a listing, never through its webhook, therefore waits for the record's next change;
 * - over any other tombstone (a full sync's sweep, a listing's tombstone, a push's delete), a
 *   pulled state strictly older is stale; one of the same time is applied, since a sweep's
 *   tombstone keeps the record's last live time, which is no deletion time;
 * - over a live state a run or a local change wrote, nothing is stale: a run applies what the
 *   provider lists (as before), as do states without a time on either side.
 * A genuinely newer pulled state (a record the provider restored, `updated_at` after the deletion)
 * is applied. Webhook pages are not judged here: the applier checks them first (staleReason).
 * Cheap on purpose, as it runs for every record of every page: no read beyond the page's states.
 */
export function pulledIsStale(pulledUpdatedAt: string | null, stored: Pick<RecordState, 'sourceUpdatedAt' | 'lastStepId' | 'deleted'>): boolean {
  if (pulledUpdatedAt === null || !stored.sourceUpdatedAt) return false;
  const byWebhook = stored.lastStepId.startsWith(WEBHOOK_STEP_PREFIX);
  if (!byWebhook && !stored.deleted) return false;
  const pulled = Date.parse(pulledUpdatedAt);
  const current = Date.parse(stored.sourceUpdatedAt);
  return pulled < current || (pulled === current && byWebhook);
}
