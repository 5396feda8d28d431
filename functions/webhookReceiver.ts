import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { webhookIntakeFor } from '../shared/core/webhookIntake';
import type { FunctionDefinition } from './definition';
import { readBodyWithin } from './http/readBodyWithin';
import { errorResponse, json, toErrorResponse } from './http/responses';
import { getServices } from './services';
import { runInTrace } from '../shared/core/traceContext';

/**
 * Webhook intake (docs/webhook-intake.md): verify, de-duplicate, log, enqueue, answer 202. The
 * work of applying the event happens on sync-inbound, so the provider gets its answer fast.
 */
export async function webhookReceiverHandler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const services = await getServices();
  try {
    // Each receipt is a trace (continuing the sender's `traceparent` when it sends one); the queue
    // message carries it, so the worker that applies the delivery logs under the same trace.
    const result = await runInTrace(request.headers.get('traceparent') ?? undefined, () =>
      webhookIntakeFor(services).receiver.receive({
        provider: request.params.provider ?? '',
        connectionId: request.params.connectionId ?? '',
        method: request.method,
        url: request.url,
        headers: request.headers as unknown as Headers,
        // Only as far as the receiver's limit: with HTTP streams on, a refused body is never buffered.
        readBody: (maxBytes) => readBodyWithin(request, maxBytes),
      }),
    );
    // A provider's endpoint check, or a provider that wants its own acknowledgement (Salesforce's
    // SOAP Ack), gets exactly the answer it expects (e.g. Graph's text/plain echo).
    if (result.reply) return { status: result.reply.status, headers: result.reply.headers, body: result.reply.body };
    // An earlier attempt of this delivery is still being enqueued: come back shortly.
    if (result.status >= 400) return errorResponse(result.status, result.code, result.message, result.code === 'in_progress' ? { 'retry-after': '5' } : {});
    return json(result.status, { deliveryId: result.deliveryId, duplicate: result.code === 'duplicate' });
  } catch (error) {
    context.warn?.(`Webhook intake failed: ${(error as Error).message}`);
    return toErrorResponse(error, services.platform.telemetry);
  }
}

export const webhookReceiver: FunctionDefinition = {
  kind: 'http',
  name: 'webhookReceiver',
  options: { route: 'webhooks/{provider}/{connectionId}', methods: ['POST'], authLevel: 'anonymous', handler: webhookReceiverHandler },
};
