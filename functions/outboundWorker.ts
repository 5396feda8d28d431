import type { InvocationContext } from '@azure/functions';
import { SyncBridgeError } from '../shared/core/errors';
import { QUEUES } from '../shared/ports/queue';
import type { FunctionDefinition } from './definition';

/**
 * Pushes of local changes to providers belong to two-way sync, which this release does not have:
 * nothing in this release enqueues to sync-outbound. Should a message arrive anyway, it is refused
 * loudly so that the broker keeps it (and finally dead-letters it) instead of it being dropped.
 */
export async function outboundWorkerHandler(_message: unknown, context: InvocationContext): Promise<void> {
  throw new SyncBridgeError(
    'configuration',
    `Outbound pushes are not available in this release; message ${String(context.triggerMetadata?.messageId ?? '')} stays on ${QUEUES.outbound} for dead-lettering.`,
  );
}

export const outboundWorker: FunctionDefinition = {
  kind: 'serviceBusQueue',
  name: 'outboundWorker',
  options: { queueName: QUEUES.outbound, connection: 'ServiceBusConnection', isSessionsEnabled: true, handler: outboundWorkerHandler },
};
