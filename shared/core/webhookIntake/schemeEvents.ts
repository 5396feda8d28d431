import { createHash } from 'node:crypto';
import type { WebhookScheme } from '../../webhooks/types';

/**
 * Per scheme: where the provider puts its own delivery id (for dropping redeliveries) and the event
 * type (for the log). The table is in docs/webhook-intake.md. Where a provider sends no id, the
 * SHA-256 of the raw body stands in: a byte-identical redelivery is dropped, any change is not.
 */
type Source = { header: string } | { body: (event: Record<string, unknown>) => unknown };

const ID_SOURCES: Partial<Record<WebhookScheme, Source[]>> = {
  'standard-webhooks': [{ header: 'webhook-id' }],
  svix: [{ header: 'svix-id' }, { header: 'webhook-id' }],
  github: [{ header: 'x-github-delivery' }],
  stripe: [{ body: (e) => e.id }],
  // Shopify's event id is shared by the retries of one event; the webhook id is per delivery attempt on older APIs.
  shopify: [{ header: 'x-shopify-event-id' }, { header: 'x-shopify-webhook-id' }],
  slack: [{ body: (e) => e.event_id }],
  notion: [{ body: (e) => e.id }],
  twilio: [{ header: 'i-twilio-idempotency-token' }],
  'google-pubsub': [{ body: (e) => (isObject(e.message) ? e.message.messageId ?? e.message.message_id : undefined) }],
};

/** Headers kept in the delivery log: ids and event types, never a signature or a credential. */
export const KEPT_HEADERS = [
  'webhook-id', 'webhook-timestamp', 'svix-id', 'svix-timestamp', 'x-github-delivery', 'x-github-event',
  'x-shopify-topic', 'x-shopify-webhook-id', 'x-shopify-event-id', 'x-shopify-triggered-at', 'x-shopify-shop-domain', 'i-twilio-idempotency-token',
  'x-slack-request-timestamp', 'x-zm-request-timestamp', 'content-type', 'user-agent', 'content-length',
];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value.length > 0 ? value.slice(0, 200) : undefined;
}

/** The provider's delivery id, or `sha256:<hex of the body>` when it sends none. */
export function providerDeliveryId(scheme: WebhookScheme, headers: Headers, event: unknown, body: Buffer): string {
  for (const source of ID_SOURCES[scheme] ?? []) {
    const value = 'header' in source ? text(headers.get(source.header)) : isObject(event) ? text(source.body(event)) : undefined;
    if (value) return value;
  }
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

/** The event type as the provider names it, for the log (and the applier's first check). */
export function eventTypeOf(scheme: WebhookScheme, headers: Headers, event: unknown): string | undefined {
  const e = isObject(event) ? event : {};
  switch (scheme) {
    case 'github': {
      const name = text(headers.get('x-github-event'));
      return name && typeof e.action === 'string' ? `${name}.${e.action}`.slice(0, 200) : name;
    }
    case 'shopify':
      return text(headers.get('x-shopify-topic'));
    case 'slack':
      return text(isObject(e.event) ? e.event.type : undefined) ?? text(e.type);
    case 'zoom':
      return text(e.event);
    case 'msgraph':
      return Array.isArray(e.value) ? 'change_notification' : undefined;
    default:
      return text(e.type);
  }
}
