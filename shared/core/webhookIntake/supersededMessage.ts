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
 * Whether the delivery was settled (applied, ignored or failed) by this very broker message, now
 * delivered again: after a crash before the message's completion, a session lock that lapsed, or
 * because a later delivery of the same `webhook-batch` failed and sent the whole batch back. Judged
 * once, the outcome stands; judged again, a delivery a later one of its batch overtook would turn
 * from `applied` into `ignored` (stale), and a failed one would be tried again past its last
 * attempt. A message is known by the broker's sequence number, which a redelivery keeps whatever
 * its delivery count says (Service Bus does not count a session closed with the message
 * unsettled), and which every new message has afresh: a scheduled retry, a hand replay, a
 * provider's resend accepted past the dedupe window are all judged.
 */
export function settledByThisMessage(delivery: Delivery, messageSequence: string | undefined): boolean {
  if (messageSequence === undefined || delivery.settledBy !== messageSequence) return false;
  return delivery.status === 'applied' || delivery.status === 'ignored' || delivery.status === 'failed';
}
