import { ServiceBusClient, ServiceBusError, type ServiceBusMessage, type ServiceBusSender } from '@azure/service-bus';
import type { TokenCredential } from '@azure/identity';
import { SyncBridgeError } from '../../core/errors';
import { QUEUES, type OutgoingMessage, type QueueName, type QueueSender } from '../../ports/queue';
import { withServiceBusEntity } from './serviceBusDependencyTarget';

/**
 * The queue port on Azure Service Bus, through the SDK's sender (the Functions output binding
 * cannot set a session id or a message id). Every message carries:
 * - `messageId`: deterministic, for the queue's duplicate detection;
 * - `sessionId`: the connection, so one connection's steps run in order;
 * - `scheduledEnqueueTimeUtc` when it lies in the future (the `x-opt-scheduled-enqueue-time`
 *   annotation: a backoff or a provider's rate-limit window);
 * - application properties verbatim, `traceparent` among them (set by the tracing sender in core).
 * One sender per queue is kept open; a list of messages goes out in as few batches as fit.
 */
export class ServiceBusQueueSender implements QueueSender {
  private readonly senders = new Map<QueueName, ServiceBusSender>();

  constructor(private readonly client: ServiceBusClient) {}

  /** Identity-based in Azure; a connection string only for the emulator (and the tests' broker). */
  static fromSettings(settings: { fullyQualifiedNamespace: string; credential: TokenCredential } | { connectionString: string }): ServiceBusQueueSender {
    const client = 'connectionString' in settings ? new ServiceBusClient(settings.connectionString) : new ServiceBusClient(settings.fullyQualifiedNamespace, settings.credential);
    return new ServiceBusQueueSender(client);
  }

  async send(queue: QueueName, messages: OutgoingMessage | readonly OutgoingMessage[]): Promise<void> {
    const list = (Array.isArray(messages) ? messages : [messages]) as readonly OutgoingMessage[];
    if (list.length === 0) return;
    const sender = this.senderFor(queue);
    const now = Date.now();
    try {
      // The SDK's batch measures what fits in one AMQP transfer, and is what goes out. (Sending the
      // same messages as an array makes the SDK add them to a batch of its own again: each message
      // would be encoded, and traced as a "message" span, twice.)
      // The batch traces each message it takes without knowing the queue; it is named here so
      // that the message's dependency has the queue as its target (serviceBusDependencyTarget.ts).
      const add = (wire: ServiceBusMessage) => withServiceBusEntity(queue, () => batch.tryAddMessage(wire));
      let batch = await sender.createMessageBatch();
      for (const message of list) {
        const wire = toServiceBusMessage(message, now);
        if (add(wire)) continue;
        if (batch.count === 0) throw new SyncBridgeError('validation', `Message ${message.messageId} is larger than a Service Bus message may be (${batch.maxSizeInBytes} bytes).`);
        await sender.sendMessages(batch);
        batch = await sender.createMessageBatch();
        if (!add(wire)) throw new SyncBridgeError('validation', `Message ${message.messageId} is larger than a Service Bus message may be (${batch.maxSizeInBytes} bytes).`);
      }
      if (batch.count > 0) await sender.sendMessages(batch);
    } catch (error) {
      throw toSyncBridgeError(error, queue);
    }
  }

  /**
   * A cheap check that every queue can be sent to: creating a batch makes the sender open its AMQP
   * link (claims-based auth with the Send right, then attach to the queue), and sends nothing. It
   * needs only the Service Bus Data Sender role the Bicep grants (a peek would need Data Receiver
   * on the sender's side, and the management API a control-plane role). An open link is reused, so
   * a healthy check costs no round trip; a queue that is gone, a missing role or an unreachable
   * namespace fails it.
   */
  async checkHealth(abortSignal?: AbortSignal): Promise<void> {
    await Promise.all(
      Object.values(QUEUES).map(async (queue) => {
        try {
          await this.senderFor(queue).createMessageBatch({ abortSignal });
        } catch (error) {
          throw toSyncBridgeError(error, queue);
        }
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.senders.values()].map((s) => s.close()));
    this.senders.clear();
    await this.client.close();
  }

  private senderFor(queue: QueueName): ServiceBusSender {
    let sender = this.senders.get(queue);
    if (!sender) this.senders.set(queue, (sender = this.client.createSender(queue)));
    return sender;
  }
}

export function toServiceBusMessage(message: OutgoingMessage, now = Date.now()): ServiceBusMessage {
  return {
    body: message.body,
    contentType: 'application/json',
    messageId: message.messageId,
    ...(message.sessionId === undefined ? {} : { sessionId: message.sessionId }),
    ...(message.scheduledEnqueueTime && message.scheduledEnqueueTime.getTime() > now ? { scheduledEnqueueTimeUtc: message.scheduledEnqueueTime } : {}),
    ...(message.applicationProperties ? { applicationProperties: { ...message.applicationProperties } } : {}),
  };
}

const TRANSIENT_CODES = new Set(['ServiceBusy', 'ServiceTimeout', 'ServiceCommunicationProblem', 'GeneralError', 'QuotaExceeded']);

function toSyncBridgeError(error: unknown, queue: string): SyncBridgeError {
  if (error instanceof SyncBridgeError) return error;
  if (error instanceof ServiceBusError) {
    const what = `Service Bus refused messages for ${queue} (${error.code})`;
    if (error.code === 'MessageSizeExceeded') return new SyncBridgeError('validation', what, { cause: error });
    if (error.code === 'MessagingEntityNotFound' || error.code === 'UnauthorizedAccess') {
      return new SyncBridgeError('configuration', `${what}: check that the queue exists and the app's identity has the Service Bus Data Sender role.`, { cause: error });
    }
    if (error.retryable || TRANSIENT_CODES.has(error.code)) return new SyncBridgeError('transient', what, { cause: error });
    return new SyncBridgeError('transient', what, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/not found|could not be found/i.test(message)) return new SyncBridgeError('configuration', `Service Bus queue ${queue}: ${message}`, { cause: error });
  return new SyncBridgeError('transient', `Service Bus send to ${queue} failed: ${message}`, { cause: error });
}
