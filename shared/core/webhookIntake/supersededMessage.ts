import type { Delivery } from '../../ports/deliveryStore';
import type { WebhookInboundMessage } from '../runs/inboundMessage';

/**
 * Whether a later send of the delivery (a hand replay, or a release after a pause) has taken over
 * from this message, so that it must not touch the delivery. Each send raises the delivery's
 * `replays` and carries the new number; a message's retries keep its number. A message numbered
 * below `replays` is older than the newest send: once that send settled the delivery (applied,
 * ignored, failed) or the delivery is held for the next release, the older message would only
 * overwrite the newer outcome with its own (a scheduled fetch retry failing again after the
 * replay applied). A delivery still `received` is not taken over: the newer message may still be
 * queued behind this one (it finishes after it and its status wins), or its send was refused and
 * the status put back (enqueueAgain.ts), in which case this older message is the one still due.
 */
export function supersededByReplay(delivery: Delivery, message: WebhookInboundMessage): boolean {
  return (message.replay ?? 0) < delivery.replays && delivery.status !== 'received';
}

/**
 * Whether the message that settled the delivery (applied, ignored or failed) is this one, now
 * delivered again by the broker: after a crash before the message's completion, or because a later
 * delivery of the same `webhook-batch` failed and sent the whole batch back. Judged once, the
 * outcome stands; judged again, a delivery a later one of its batch overtook would turn from
 * `applied` into `ignored` (stale), and a failed one would be tried again past its last attempt.
 * Only for a redelivered message (the caller checks the broker's delivery count): a new message of
 * the same send number (a provider's resend accepted past the dedupe window) applies as before, and
 * a hand replay is a new send number, settled by its own message whatever an older one wrote.
 */
export function settledBySameSend(delivery: Delivery, message: WebhookInboundMessage): boolean {
  const settled = delivery.status === 'applied' || delivery.status === 'ignored' || delivery.status === 'failed';
  return settled && delivery.settledReplay === (message.replay ?? 0);
}
