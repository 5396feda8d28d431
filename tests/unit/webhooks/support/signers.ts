import { createHash, createHmac } from 'node:crypto';

/**
 * Signers written from each provider's documentation, independently of shared/webhooks, so that a
 * test fails if the verifier and the documented algorithm disagree.
 */

export const hmacHex = (algorithm: string, key: string | Buffer, ...parts: Array<string | Buffer>): string =>
  parts.reduce((mac, part) => mac.update(part), createHmac(algorithm, key)).digest('hex');

export const hmacBase64 = (algorithm: string, key: string | Buffer, ...parts: Array<string | Buffer>): string =>
  parts.reduce((mac, part) => mac.update(part), createHmac(algorithm, key)).digest('base64');

export const githubSignature = (secret: string, body: Buffer | string): string => `sha256=${hmacHex('sha256', secret, body)}`;

export const slackSignature = (secret: string, timestamp: number, body: Buffer | string): string =>
  `v0=${hmacHex('sha256', secret, `v0:${timestamp}:`, body)}`;

export const zoomSignature = slackSignature;

export const stripeHeader = (secret: string, timestamp: number, body: Buffer | string, extra = ''): string =>
  `t=${timestamp},v1=${hmacHex('sha256', secret, `${timestamp}.`, body)}${extra}`;

export const shopifySignature = (secret: string, body: Buffer | string): string => hmacBase64('sha256', secret, body);

export const notionSignature = githubSignature;

/** Standard Webhooks: the key is the base64 after whsec_. */
export const standardSignature = (secret: string, id: string, timestamp: number, body: Buffer | string): string =>
  `v1,${hmacBase64('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'), `${id}.${timestamp}.`, body)}`;

export const salesforceSignature = shopifySignature;

/** Twilio: base64 HMAC-SHA1 of the URL followed by the sorted parameters. */
export function twilioSignature(authToken: string, url: string, params: Record<string, string> = {}): string {
  const data = Object.keys(params)
    .sort()
    .reduce((text, name) => text + name + params[name], url);
  return hmacBase64('sha1', authToken, data);
}

export const sha256Hex = (body: Buffer | string): string => createHash('sha256').update(body).digest('hex');

/** A random whsec_ secret (24 bytes, the spec's minimum). */
export const newWhsec = (seed: string): string => `whsec_${createHash('sha256').update(seed).digest().subarray(0, 24).toString('base64')}`;

/** Flips the lowest bit of the last byte: the smallest change a body can suffer. */
export function changeOneByte(body: Buffer | string): Buffer {
  const copy = Buffer.from(body);
  if (copy.length === 0) return Buffer.from('x');
  copy[copy.length - 1] ^= 1;
  return copy;
}
