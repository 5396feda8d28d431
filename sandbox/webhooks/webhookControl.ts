import type { IncomingMessage, ServerResponse } from 'node:http';
import { SyncBridgeError } from '../../shared/core/errors';
import { readJsonObject, sendJson, sendNoContent } from '../httpIo';
import { WebhookDispatcher } from './webhookDispatcher';
import { parseWebhookTarget } from './webhookTarget';

/**
 * /_sandbox/webhooks: register targets (POST), list them with their counters (GET), remove one
 * (DELETE /{id}) or all (DELETE), and read the delivery log (GET /deliveries?target=&messageId=&limit=).
 */
export async function handleWebhookControl(dispatcher: WebhookDispatcher, req: IncomingMessage, res: ServerResponse, url: URL, rest: string[]): Promise<void> {
  const method = req.method ?? 'GET';
  const [sub, ...extra] = rest;
  if (extra.length > 0) throw new SyncBridgeError('not_found', `No control endpoint ${url.pathname}; see docs/sandbox.md.`);
  if (sub === undefined) {
    switch (method) {
      case 'GET':
        return sendJson(res, 200, { targets: dispatcher.list() });
      case 'POST':
        return sendJson(res, 201, dispatcher.register(parseWebhookTarget(await readJsonObject(req))));
      case 'DELETE':
        dispatcher.clear();
        return sendNoContent(res);
    }
  } else if (sub === 'deliveries') {
    if (method === 'GET') return sendJson(res, 200, { deliveries: dispatcher.deliveries(deliveryFilter(url.searchParams)) });
  } else if (method === 'DELETE') {
    if (!dispatcher.remove(sub)) throw new SyncBridgeError('not_found', `No webhook target '${sub}'.`);
    return sendNoContent(res);
  }
  throw new SyncBridgeError('validation', `Method ${method} is not supported on ${url.pathname}; see docs/sandbox.md.`);
}

function deliveryFilter(params: URLSearchParams) {
  const limit = params.get('limit');
  if (limit !== null && !/^[1-9]\d{0,4}$/.test(limit)) throw new SyncBridgeError('validation', `Query parameter 'limit' must be an integer from 1 to 99999; got '${limit}'.`);
  return {
    targetId: params.get('target') ?? undefined,
    messageId: params.get('messageId') ?? undefined,
    limit: limit === null ? undefined : Number(limit),
  };
}
