import { idOf, isObject, parseJson, type ParsedEvent, type ProviderEventInput } from './types';

/**
 * Notion webhooks (https://developers.notion.com/reference/webhooks-events-delivery): events carry
 * the page's id (`entity.id`), never its content: `page.deleted` removes it, the other page events
 * (created, content_updated, properties_updated, moved, undeleted, unlocked, locked) are targeted
 * fetches of that page.
 */
export function parseNotionEvent({ body }: ProviderEventInput): ParsedEvent {
  const event = parseJson(body);
  if (!isObject(event) || typeof event.type !== 'string') return { ignored: 'Not a Notion event.' };
  if (!event.type.startsWith('page.')) return { ignored: `Notion event "${event.type}" is not about pages.` };
  const id = isObject(event.entity) ? idOf(event.entity.id) : undefined;
  if (!id) return { ignored: 'The event names no page.' };
  const updatedAt = typeof event.timestamp === 'string' ? event.timestamp : null;
  return { changes: [event.type === 'page.deleted' ? { entity: 'pages', externalId: id, kind: 'delete', updatedAt } : { entity: 'pages', externalId: id, kind: 'fetch' }] };
}
