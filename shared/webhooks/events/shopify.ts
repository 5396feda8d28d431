import { idOf, isObject, isoOrNull, parseJson, type ParsedEvent, type ProviderEventInput } from './types';

const ENTITIES: Record<string, string> = { orders: 'orders', products: 'products' };

/**
 * Shopify (https://shopify.dev/docs/api/webhooks): `X-Shopify-Topic` is `<resource>/<action>`; the
 * body is the resource itself (`id`, `updated_at`). `orders/delete` and `products/delete` carry only
 * `{ id }` and remove the record (as of `X-Shopify-Triggered-At`); the other order and product topics (create, updated, paid,
 * cancelled, fulfilled, …) store it.
 */
export function parseShopifyEvent({ headers, body }: ProviderEventInput): ParsedEvent {
  const topic = headers.get('x-shopify-topic') ?? '';
  const [resource, action] = topic.split('/');
  const entity = ENTITIES[resource];
  if (!entity || !action) return { ignored: `Shopify topic "${topic || '(none)'}" is not about orders or products.` };
  const object = parseJson(body);
  const id = isObject(object) ? idOf(object.id) : undefined;
  if (!isObject(object) || !id) return { ignored: 'The body carries no id.' };
  // A deletion's body is only `{ id }`; its time is when Shopify triggered the webhook.
  if (action === 'delete') return { changes: [{ entity, externalId: id, kind: 'delete', updatedAt: isoOrNull(headers.get('x-shopify-triggered-at')) }] };
  return { changes: [{ entity, externalId: id, kind: 'upsert', data: object, updatedAt: isoOrNull(object.updated_at) }] };
}
