import { idOf, isObject, isoOrNull, parseJson, type ParsedEvent, type ProviderEventInput } from './types';

/**
 * Google Calendar changes relayed through a Pub/Sub push subscription
 * (https://cloud.google.com/pubsub/docs/push): the body is `{ message: { data, attributes,
 * messageId }, subscription }`, `data` base64 of the publisher's JSON. A Calendar event resource
 * (`kind: "calendar#event"`) is stored, or removed when its `status` is `cancelled` (how Calendar
 * reports deletions); a notification naming only an event id (`eventId` in the data or the
 * attributes) is a targeted fetch. Anything else is ignored.
 */
export function parseGooglePubSubEvent({ body }: ProviderEventInput): ParsedEvent {
  const push = parseJson(body);
  if (!isObject(push) || !isObject(push.message)) return { ignored: 'Not a Pub/Sub push message.' };
  const attributes = isObject(push.message.attributes) ? push.message.attributes : {};
  const data = typeof push.message.data === 'string' ? parseJson(Buffer.from(push.message.data, 'base64').toString('utf8')) : undefined;
  if (isObject(data) && data.kind === 'calendar#event') {
    const id = idOf(data.id);
    if (!id) return { ignored: 'The calendar event has no id.' };
    const updatedAt = isoOrNull(data.updated);
    return { changes: [data.status === 'cancelled' ? { entity: 'events', externalId: id, kind: 'delete', updatedAt } : { entity: 'events', externalId: id, kind: 'upsert', data, updatedAt }] };
  }
  const id = idOf(isObject(data) ? data.eventId : undefined) ?? idOf(attributes.eventId);
  if (id) return { changes: [{ entity: 'events', externalId: id, kind: 'fetch' }] };
  return { ignored: 'The Pub/Sub message carries no calendar event.' };
}
