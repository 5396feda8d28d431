import { createHmac } from 'node:crypto';

/**
 * Standard Webhooks signatures (standardwebhooks.com): HMAC-SHA256 over
 * `{webhook-id}.{webhook-timestamp}.{body}` keyed with the bytes of the base64 after `whsec_`,
 * sent as `v1,<base64>`. With several secrets (rotation) every signature is sent, space-separated,
 * so a receiver holding either secret verifies.
 */

export const SECRET_PREFIX = 'whsec_';

/** The key bytes of a `whsec_<base64>` secret, or undefined when it is not one (or shorter than 16 bytes). */
export function decodeWebhookSecret(secret: string): Buffer | undefined {
  if (!secret.startsWith(SECRET_PREFIX)) return undefined;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(encoded)) return undefined;
  const key = Buffer.from(encoded, 'base64');
  return key.length >= 16 && key.length <= 256 ? key : undefined;
}

export function signatureHeader(keys: readonly Buffer[], messageId: string, timestampSeconds: number, body: string): string {
  return keys.map((key) => `v1,${createHmac('sha256', key).update(`${messageId}.${timestampSeconds}.${body}`).digest('base64')}`).join(' ');
}
