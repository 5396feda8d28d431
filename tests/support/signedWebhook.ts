import { createHmac, randomBytes } from 'node:crypto';
import type { Harness } from './harness';

/** The sandbox's Standard Webhooks signature (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`) with a `whsec_` secret. */
export function standardWebhookSignature(secret: string, id: string, timestamp: number, body: string): string {
  const bytes = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', bytes).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/**
 * POSTs `event` to the host's webhook route for a sandbox connection, signed with `secret` under a
 * fresh delivery id, and returns the answer (status and JSON body).
 */
export async function postSignedWebhook(hostUrl: string, connectionId: string, secret: string, event: unknown): Promise<{ status: number; body: any }> {
  const id = `msg_${randomBytes(8).toString('hex')}`;
  const body = JSON.stringify(event);
  const timestamp = Math.floor(Date.now() / 1000);
  const response = await fetch(`${hostUrl}/api/webhooks/sandbox/${connectionId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': standardWebhookSignature(secret, id, timestamp, body) },
    body,
  });
  return { status: response.status, body: await response.json().catch(() => undefined) };
}

/** postSignedWebhook that must be accepted (202); returns the delivery id. */
export async function postAcceptedWebhook(h: Pick<Harness, 'hostUrl'>, connectionId: string, secret: string, event: unknown): Promise<string> {
  const response = await postSignedWebhook(h.hostUrl, connectionId, secret, event);
  if (response.status !== 202) throw new Error(`the webhook was answered ${response.status}, not 202: ${JSON.stringify(response.body)}`);
  return response.body.deliveryId as string;
}

/** A delivery of the connection's log as the admin API lists it (the newest 500), by id. */
export async function deliveryById(h: Pick<Harness, 'api'>, connectionId: string, id: string): Promise<any> {
  return (await h.api('GET', `/api/connections/${connectionId}/deliveries?limit=500`)).body.deliveries.find((d: any) => d.id === id);
}
