import { idOf, isObject, parseJson, type ParsedEvent, type ProviderEventInput, type RecordChange } from './types';

/**
 * Microsoft Graph change notifications (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks):
 * `value[]`, each with `changeType` (created, updated, deleted), `resource` (e.g.
 * `Users/{id}/Events/{id}`) and `resourceData.id`. Only calendar events are records here. A deletion
 * removes the event; a creation or update is a targeted fetch (basic notifications carry no
 * content; rich ones carry it encrypted with the subscription's certificate, which SyncBridge does
 * not hold, so they are fetched too).
 */
export function parseGraphNotifications({ body }: ProviderEventInput): ParsedEvent {
  const payload = parseJson(body);
  if (!isObject(payload) || !Array.isArray(payload.value)) return { ignored: 'Not a Graph notification collection.' };
  const changes: RecordChange[] = [];
  for (const notification of payload.value) {
    if (!isObject(notification) || typeof notification.resource !== 'string') continue;
    if (!/\/events\/[^/]+$/i.test(notification.resource)) continue;
    const id = (isObject(notification.resourceData) ? idOf(notification.resourceData.id) : undefined) ?? notification.resource.split('/').pop();
    if (!id) continue;
    changes.push(notification.changeType === 'deleted' ? { entity: 'events', externalId: id, kind: 'delete', updatedAt: null } : { entity: 'events', externalId: id, kind: 'fetch' });
  }
  return changes.length > 0 ? { changes } : { ignored: 'No calendar event in the notifications.' };
}
