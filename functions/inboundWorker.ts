import type { InvocationContext } from '@azure/functions';
import { parseInboundMessage } from '../shared/core/runs/inboundMessage';
import { QUEUES } from '../shared/ports/queue';
import type { FunctionDefinition } from './definition';
import { getServices } from './services';

/**
 * One message = one bounded step of a run (a page of one entity, or the run's closing step).
 * A throw leaves the message to the broker: redelivered, then dead-lettered after
 * maxDeliveryCount (host.json / queue settings).
 */
export async function inboundWorkerHandler(message: unknown, context: InvocationContext): Promise<void> {
  const { steps } = await getServices();
  const outcome = await steps.handle(parseInboundMessage(message));
  context.debug(`Inbound step ${String(context.triggerMetadata?.messageId ?? '')}: ${outcome}.`);
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
