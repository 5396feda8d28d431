import type { Delivery } from '../../ports/deliveryStore';
import type { Platform } from '../../ports/platform';
import { QUEUES } from '../../ports/queue';
import { webhookMessageId, type WebhookInboundMessage } from '../runs/inboundMessage';

/**
 * Sends a stored delivery through the worker again (a hand replay, or a held delivery released
 * when its connection is resumed): the delivery becomes `received` with its replay count up, and
 * a message with replay number n (message id `{deliveryId}:r{n}`, step id `webhook:{id}:r{n}`)
 * goes to its connection's session. A new number per send, so neither the broker's duplicate
 * detection nor the pipeline's step stamp mistakes it for an earlier message.
 *
 * When the queue refuses the message, the delivery's status and detail are put back as they were
 * (unless something wrote the delivery since: the message may have got through after all, and
 * the worker's status wins) and this returns `refused`: a delivery is never left `received`
 * without a message. The replay count stays up, so the next try's message id is new too.
 */
export async function enqueueAgain(platform: Platform, delivery: Delivery): Promise<number | 'refused'> {
  const replay = delivery.replays + 1;
  const at = platform.clock.now().toISOString();
  await platform.deliveries.update(delivery.id, { replays: replay, status: 'received', detail: undefined }, at);
  const message: WebhookInboundMessage = { kind: 'webhook', connectionId: delivery.connectionId, deliveryId: delivery.id, replay };
  try {
    await platform.queue.send(QUEUES.inbound, {
      body: message,
      messageId: webhookMessageId(message),
      sessionId: delivery.connectionId,
      applicationProperties: { kind: 'webhook', deliveryId: delivery.id },
    });
  } catch (error) {
    platform.telemetry.exception(error, { deliveryId: delivery.id, connectionId: delivery.connectionId, stage: 'enqueue-again' });
    const current = await platform.deliveries.get(delivery.id);
    if (current?.status === 'received' && current.updatedAt === at && current.replays === replay) {
      await platform.deliveries.update(delivery.id, { status: delivery.status, detail: delivery.detail }, platform.clock.now().toISOString());
    }
    return 'refused';
  }
  return replay;
}
