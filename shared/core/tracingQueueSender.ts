import type { OutgoingMessage, QueueName, QueueSender } from '../ports/queue';
import { currentTraceparent } from './traceContext';

/**
 * Puts the current trace (W3C `traceparent`) and the send time on every message that does not
 * carry them already, so the worker that receives it continues the same trace and can report
 * queue lag. Wraps any platform's queue (composition.ts).
 */
export class TracingQueueSender implements QueueSender {
  constructor(private readonly inner: QueueSender) {}

  send(queue: QueueName, messages: OutgoingMessage | readonly OutgoingMessage[]): Promise<void> {
    const traceparent = currentTraceparent();
    const sentAt = new Date().toISOString();
    const stamp = (message: OutgoingMessage): OutgoingMessage => ({
      ...message,
      applicationProperties: { ...(traceparent ? { traceparent } : {}), sentAt, ...message.applicationProperties },
    });
    return this.inner.send(queue, Array.isArray(messages) ? (messages as readonly OutgoingMessage[]).map(stamp) : stamp(messages as OutgoingMessage));
  }
}
