import { fromUnixSeconds, idOf, isObject, parseJson, type ParsedEvent, type ProviderEventInput } from './types';

const ENTITIES: Record<string, string> = { customer: 'customers', invoice: 'invoices' };

/**
 * Stripe (https://docs.stripe.com/api/events/object): `type` is `<object>.<what happened>`,
 * `data.object` the object after the change, `created` the event time (unix seconds; Stripe objects
 * have no updated-at, so the event time orders them). `customer.deleted` and `invoice.deleted`
 * remove the record; every other customer/invoice event (created, updated, paid, finalized,
 * voided, payment_failed, …) stores the object.
 */
export function parseStripeEvent({ body }: ProviderEventInput): ParsedEvent {
  const event = parseJson(body);
  if (!isObject(event) || typeof event.type !== 'string') return { ignored: 'Not a Stripe event object.' };
  const [objectType, ...rest] = event.type.split('.');
  const entity = ENTITIES[objectType];
  const object = isObject(event.data) && isObject(event.data.object) ? event.data.object : undefined;
  if (!entity || rest.length === 0) return { ignored: `Stripe event "${event.type}" is not about customers or invoices.` };
  const id = idOf(object?.id);
  if (!object || !id) return { ignored: 'The event carries no object id.' };
  const updatedAt = fromUnixSeconds(event.created);
  return { changes: [rest.join('.') === 'deleted' ? { entity, externalId: id, kind: 'delete', updatedAt } : { entity, externalId: id, kind: 'upsert', data: object, updatedAt }] };
}
