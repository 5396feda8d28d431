import type { InvocationContext } from '@azure/functions';
import { SyncBridgeError } from '../shared/core/errors';
import type { OutboundMessage } from '../shared/core/outbound/localChanges';
import { twoWayFor } from '../shared/core/outbound/registry';
import { QUEUES } from '../shared/ports/queue';
import type { FunctionDefinition } from './definition';
import { inMessageTrace } from './queueTrace';
import { getServices } from './services';

function parseOutboundMessage(message: unknown): OutboundMessage {
  const id = (message as { outboxId?: unknown } | null)?.outboxId;
  if (typeof id !== 'string' || id === '') throw new SyncBridgeError('validation', 'An outbound message needs an "outboxId" string.');
  const dueAt = (message as { dueAt?: unknown }).dueAt;
  return typeof dueAt === 'string' ? { outboxId: id, dueAt } : { outboxId: id };
}

/**
 * One message = one outbox entry to push (session = connection, so one connection's pushes go
 * out in order). Provider failures are handled inside (retries are scheduled messages, refusals
 * park the entry); a throw means our own failure, and the broker redelivers.
 */
export async function outboundWorkerHandler(message: unknown, context: InvocationContext): Promise<void> {
  const services = await getServices();
  const parsed = parseOutboundMessage(message);
  const outcome = await inMessageTrace(context, services.platform.telemetry, QUEUES.outbound, () => twoWayFor(services).outbound.handle(parsed));
  context.debug(`Outbound ${String(context.triggerMetadata?.messageId ?? '')}: ${outcome}.`);
}

export const outboundWorker: FunctionDefinition = {
  kind: 'serviceBusQueue',
  name: 'outboundWorker',
  options: { queueName: QUEUES.outbound, connection: 'ServiceBusConnection', isSessionsEnabled: true, handler: outboundWorkerHandler },
};
