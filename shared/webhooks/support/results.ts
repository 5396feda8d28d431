import type { VerifyWebhookResult, WebhookHandshake } from '../types';

/** The request is authentic: enqueue it. */
export function accepted(): VerifyWebhookResult {
  return { valid: true };
}

/** The request is not authentic (or not checkable); `reason` is a short sentence naming what failed. */
export function rejected(reason: string): VerifyWebhookResult {
  return { valid: false, reason };
}

/**
 * A provider handshake: the receiver answers with `handshake` and enqueues nothing. `valid` still
 * says whether the request was authenticated, because some handshakes (Slack, Zoom) are signed and
 * others (Microsoft Graph, Notion, Salesforce ENS) arrive before any secret is shared.
 */
export function handshakeResult(valid: boolean, handshake: WebhookHandshake, reason?: string): VerifyWebhookResult {
  return reason === undefined ? { valid, handshake } : { valid, reason, handshake };
}

/** A JSON handshake answer with status 200. */
export function jsonHandshake(body: unknown): WebhookHandshake {
  return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body) };
}

/** An empty 200 answer, for handshakes that only need an acknowledgement. */
export function emptyHandshake(): WebhookHandshake {
  return { status: 200, headers: {}, body: '' };
}
