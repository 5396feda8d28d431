import type { InvocationContext } from '@azure/functions';
import { parseInboundQueueMessage } from '../shared/core/runs/inboundMessage';
import { webhookIntakeFor } from '../shared/core/webhookIntake';
import { sweepHeld } from '../shared/core/webhookIntake/heldDeliveries';
import { MAX_DELIVERY_COUNT, QUEUES } from '../shared/ports/queue';
import type { FunctionDefinition } from './definition';
import { inMessageTrace } from './queueTrace';
import { getServices } from './services';

/**
 * One message = one bounded step of a run (a page of one entity, or the run's closing step),
 * one received webhook delivery to apply (or a batch of one connection's, from the local journal
 * drain), or a resumed connection's held sweep (heldDeliveries.ts). A throw leaves the message to the broker: redelivered,
 * then dead-lettered after maxDeliveryCount (queue settings, MAX_DELIVERY_COUNT). The applier and
 * the step runner are told when this is the message's last delivery, so that they record a failure
 * instead of leaving the delivery `received`, or the run `running`, behind a dead letter.
 */
export async function inboundWorkerHandler(message: unknown, context: InvocationContext): Promise<void> {
  const services = await getServices();
  const parsed = parseInboundQueueMessage(message);
  const finalDelivery = Number(context.triggerMetadata?.deliveryCount) >= MAX_DELIVERY_COUNT;
  // Which broker message this is: a delivery it settled before stays as it is (settledByThisMessage).
  const sequence = context.triggerMetadata?.sequenceNumber;
  const messageSequence = typeof sequence === 'number' || typeof sequence === 'string' || typeof sequence === 'bigint' ? String(sequence) : undefined;
  const outcome = await inMessageTrace(context, services.platform.telemetry, QUEUES.inbound, async () => {
    if (parsed.kind === 'webhook') return webhookIntakeFor(services).applier.apply(parsed, { finalDelivery, messageSequence });
    if (parsed.kind === 'webhook-batch') return JSON.stringify(await webhookIntakeFor(services).applier.applyBatch(parsed, { finalDelivery, messageSequence }));
    if (parsed.kind === 'held-sweep') return `${await sweepHeld(services.platform, parsed)} released`;
    return services.steps.handle(parsed, { finalDelivery });
  });
  context.debug(`Inbound ${parsed.kind} ${String(context.triggerMetadata?.messageId ?? '')}: ${outcome}.`);
}

export const inboundWorker: FunctionDefinition = {
  kind: 'serviceBusQueue',
  name: 'inboundWorker',
  options: {
    queueName: QUEUES.inbound,
    connection: 'ServiceBusConnection',
    isSessionsEnabled: true, // session id = connection id: one worker at a time per provider account
    handler: inboundWorkerHandler,
  },
};
