import { fromUnixSeconds, idOf, isObject, parseJson, type ParsedEvent, type ProviderEventInput } from './types';

/**
 * Slack Events API (https://api.slack.com/apis/events-api): an `event_callback` wraps one `event`.
 * Messages have no id of their own: `<channel>:<ts>` is. A plain `message` stores it;
 * subtype `message_changed` stores `event.message` (same ts); `message_deleted` removes
 * `<channel>:<deleted_ts>`. `user_change` and `team_join` store `event.user` (`updated` is unix
 * seconds). url_verification is answered by the receiver before any of this.
 */
export function parseSlackEvent({ body }: ProviderEventInput): ParsedEvent {
  const envelope = parseJson(body);
  if (!isObject(envelope) || envelope.type !== 'event_callback' || !isObject(envelope.event)) return { ignored: 'Not a Slack event_callback.' };
  const event = envelope.event;
  if (event.type === 'message') {
    const channel = idOf(event.channel);
    if (!channel) return { ignored: 'The message names no channel.' };
    if (event.subtype === 'message_deleted') {
      const ts = idOf(event.deleted_ts);
      return ts ? { changes: [{ entity: 'messages', externalId: `${channel}:${ts}`, kind: 'delete', updatedAt: fromUnixSeconds(event.event_ts ?? event.ts) }] } : { ignored: 'The deletion names no message.' };
    }
    const message = event.subtype === 'message_changed' && isObject(event.message) ? event.message : event;
    const ts = idOf(message.ts);
    if (!ts) return { ignored: 'The message has no ts.' };
    const edited = isObject(message.edited) ? fromUnixSeconds(message.edited.ts) : null;
    return { changes: [{ entity: 'messages', externalId: `${channel}:${ts}`, kind: 'upsert', data: { ...message, channel }, updatedAt: edited ?? fromUnixSeconds(ts) }] };
  }
  if ((event.type === 'user_change' || event.type === 'team_join') && isObject(event.user)) {
    const id = idOf(event.user.id);
    if (!id) return { ignored: 'The user has no id.' };
    return { changes: [{ entity: 'users', externalId: id, kind: 'upsert', data: event.user, updatedAt: fromUnixSeconds(event.user.updated) }] };
  }
  return { ignored: `Slack event "${String(event.type)}" does not change messages or users.` };
}
