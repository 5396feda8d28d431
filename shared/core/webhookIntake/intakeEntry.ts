import type { IntakeEntry } from '../../ports/deliveryIntake';
import type { Delivery } from '../../ports/deliveryStore';
import { webhookMessageId, type WebhookInboundMessage } from '../runs/inboundMessage';

/** What a verified delivery is, before it is taken: the receiver's findings about one request. */
export interface VerifiedDelivery {
  deliveryId: string;
  tenantId: string;
  connectionId: string;
  /** The provider whose adapter applies it. */
  provider: string;
  /** The provider's own delivery id (it de-duplicates: the claim key). */
  webhookId: string;
  receivedAt: string;
  eventType: Delivery['eventType'];
  headers: Record<string, string>;
  body: string;
  /** The receipt's trace, carried on to whoever applies the delivery. */
  traceparent?: string;
}

/**
 * The intake entry of a verified delivery (DeliveryIntake.write): its claim key, its log row
 * (`received`) and its `webhook` message on the connection's session. Built here for the receiver
 * and for whatever journals deliveries as it does (the apply bench, tests).
 */
export function intakeEntryOf(d: VerifiedDelivery): IntakeEntry {
  const message: WebhookInboundMessage = { kind: 'webhook', connectionId: d.connectionId, deliveryId: d.deliveryId };
  return {
    claimKey: `webhook:${d.connectionId}:${d.webhookId}`,
    delivery: {
      id: d.deliveryId,
      tenantId: d.tenantId,
      connectionId: d.connectionId,
      provider: d.provider,
      webhookId: d.webhookId,
      receivedAt: d.receivedAt,
      status: 'received',
      eventType: d.eventType,
      headers: d.headers,
      body: d.body,
      replays: 0,
      updatedAt: d.receivedAt,
    },
    message: {
      body: message,
      messageId: webhookMessageId(message),
      sessionId: d.connectionId,
      // Per delivery: the group commit sends a batch outside each request's own context.
      applicationProperties: { kind: 'webhook', deliveryId: d.deliveryId, ...(d.traceparent ? { traceparent: d.traceparent } : {}) },
    },
  };
}
