import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { IncomingHttpHeaders, Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver got, with the body exactly as sent. */
export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  receivedAtMs: number;
}

/** Decides the status of each request; may wait (to simulate a slow receiver). */
export type Responder = (webhook: ReceivedWebhook, index: number) => number | Promise<number>;

/**
 * A real HTTP receiver on 127.0.0.1, written independently of the sandbox so that the tests check
 * the sandbox against the Standard Webhooks spec rather than against its own code.
 */
export class WebhookTestReceiver {
  readonly received: ReceivedWebhook[] = [];
  respond: Responder = () => 204;
  private server!: Server;
  url = '';

  static async start(): Promise<WebhookTestReceiver> {
    const receiver = new WebhookTestReceiver();
    receiver.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', async () => {
        const webhook = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), receivedAtMs: Date.now() };
        receiver.received.push(webhook);
        const status = await receiver.respond(webhook, receiver.received.length - 1);
        if (!res.destroyed) res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    receiver.url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/hooks`;
    return receiver;
  }

  events(): Array<{ id: string; type: string; created_at: string; data: { entity: string; record?: Record<string, unknown>; id?: string } }> {
    return this.received.map((webhook) => JSON.parse(webhook.body));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A new whsec_ secret and its key bytes. */
export function newSecret(): { secret: string; key: Buffer } {
  const key = randomBytes(24);
  return { secret: `whsec_${key.toString('base64')}`, key };
}

/**
 * Standard Webhooks verification, from the spec: the signed content is `id.timestamp.body`, the
 * key is the base64-decoded secret after `whsec_`, and the header holds space-separated
 * `v1,<base64 HMAC-SHA256>` entries of which one must match (compared in constant time).
 */
export function verifyStandardWebhook(webhook: ReceivedWebhook, key: Buffer, toleranceSeconds = 300): boolean {
  const id = webhook.headers['webhook-id'];
  const timestamp = webhook.headers['webhook-timestamp'];
  const signatures = webhook.headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${webhook.body}`).digest();
  return signatures.split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    if (version !== 'v1' || !signature) return false;
    const presented = Buffer.from(signature, 'base64');
    return presented.length === expected.length && timingSafeEqual(presented, expected);
  });
}

export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
