import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { FunctionDefinition } from './definition';
import { errorResponse } from './http/responses';

/**
 * Webhook intake comes with the two-way sync release. Until then the route answers 501 and stores
 * or enqueues nothing, so that a provider's delivery log shows the failure instead of a false 2xx.
 */
export async function webhookReceiverHandler(request: HttpRequest): Promise<HttpResponseInit> {
  return errorResponse(
    501,
    'not_available',
    `Webhook intake for provider "${request.params.provider}" is not available in this release; the event was not accepted. Use scheduled or manual syncs.`,
  );
}

export const webhookReceiver: FunctionDefinition = {
  kind: 'http',
  name: 'webhookReceiver',
  options: { route: 'webhooks/{provider}/{connectionId}', methods: ['POST'], authLevel: 'anonymous', handler: webhookReceiverHandler },
};
