/** The queues the functions talk through (Service Bus queues on Azure). */
export const QUEUES = {
  inbound: 'sync-inbound',
  outbound: 'sync-outbound',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/**
 * Deliveries of one message before the broker dead-letters it: the queues' `maxDeliveryCount`
 * (infra/modules/serviceBus.bicep, and the local queue's default). A handler that sees this
 * delivery count knows a throw will not bring the message back.
 */
export const MAX_DELIVERY_COUNT = 10;

export interface OutgoingMessage<T = unknown> {
  /** JSON-serialisable payload. */
  body: T;
  /**
   * Deterministic id of what the message is (e.g. run + entity + page). The broker drops a second
   * message with the same id inside its duplicate-detection window.
   */
  messageId: string;
  /** Messages of one session are delivered in order, one at a time (session = connection id). */
  sessionId?: string;
  /** When set in the future, the message becomes visible only then (a scheduled message). */
  scheduledEnqueueTime?: Date;
  /** Small string properties carried beside the body (trace context, kind). */
  applicationProperties?: Record<string, string | number | boolean>;
}

/**
 * Sending side of the message broker. Receiving is the host's job (the Functions runtime on Azure,
 * local/ on a laptop), so the product never polls.
 *
 * Semantics (tests/conformance/queue.conformance.ts):
 * - `send` resolves once every message is accepted, and each is durable before anyone outside the
 *   process can learn of it: on Service Bus on return; in the local store when its event-loop turn
 *   commits, which the local host awaits before it answers (docs/storage-local.md).
 * - A message id seen again within the duplicate-detection window is accepted and dropped.
 * - A scheduled message is not delivered before its time; once its time has come, it is delivered
 *   before any message its session is sent afterwards (the local queue keeps this across a clock
 *   stepped back, docs/local-host.md).
 */
export interface QueueSender {
  send(queue: QueueName, messages: OutgoingMessage | readonly OutgoingMessage[]): Promise<void>;
}
