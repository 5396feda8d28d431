import type { InvocationContext } from '@azure/functions';
import { runInTrace } from '../shared/core/traceContext';
import type { Telemetry } from '../shared/ports/telemetry';

/**
 * Runs a queue-triggered handler inside the trace its message carries (`traceparent` application
 * property; a new trace when absent or malformed), and reports the message's queue lag: from when
 * the broker made it available (`enqueuedTimeUtc`, or the sender's `sentAt`) to this invocation.
 */
export function inMessageTrace<T>(context: InvocationContext, telemetry: Telemetry, queue: string, work: () => Promise<T>): Promise<T> {
  const metadata = (context.triggerMetadata ?? {}) as Record<string, unknown>;
  const properties = (metadata.applicationProperties ?? {}) as Record<string, unknown>;
  const enqueued = Date.parse(String(metadata.enqueuedTimeUtc ?? properties.sentAt ?? ''));
  return runInTrace(typeof properties.traceparent === 'string' ? properties.traceparent : undefined, () => {
    if (Number.isFinite(enqueued)) telemetry.metric('QueueLagMs', Math.max(0, Date.now() - enqueued), { queue });
    return work();
  });
}
