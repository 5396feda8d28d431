import { createHash } from 'node:crypto';
import type { Delivery } from '../../ports/deliveryStore';
import type { Platform } from '../../ports/platform';
import { verifyWebhook } from '../../webhooks/verifyWebhook';
import { webhookMessageId, type WebhookInboundMessage } from '../runs/inboundMessage';
import { IntakeGroupCommit } from './groupCommit';
import type { WebhookSecrets } from './secrets';

export interface ReceiverOptions {
  /** Larger bodies get 413. Default 1 MB. */
  maxBodyBytes?: number;
  /** Accepted age (and future skew) of `webhook-timestamp`. Default 300 s, as the spec suggests. */
  toleranceSeconds?: number;
  /** How long a delivery id is remembered for dropping duplicates. Default 24 h. */
  dedupeTtlMs?: number;
}

export interface IncomingWebhook {
  provider: string;
  connectionId: string;
  method: string;
  url: string;
  headers: Headers;
  /** Reads the raw body once; the receiver calls it only after the cheap checks. */
  readBody(): Promise<Buffer>;
}

/** What to answer: 202 accepted, 200 a duplicate, anything else a rejection with a safe message. */
export interface ReceiveResult {
  status: number;
  code: 'accepted' | 'duplicate' | 'not_found' | 'payload_too_large' | 'unauthorized' | 'validation';
  message: string;
  deliveryId?: string;
}

/** Headers worth keeping for diagnosis; the signature is left out (it is useless without the secret, but no need to keep it). */
const KEPT_HEADERS = ['webhook-id', 'webhook-timestamp', 'content-type', 'user-agent', 'content-length'];

/** Ours, stable per (connection, provider delivery id): a retried intake lands on the same row and message id. */
export function deliveryIdFor(connectionId: string, webhookId: string): string {
  return `dlv_${createHash('sha256').update(`${connectionId}\n${webhookId}`).digest('base64url').slice(0, 24)}`;
}

/**
 * The receiving half of webhook intake: cheap checks first (size, connection), then the signature
 * on the raw bytes, then JSON, then the duplicate check; only a delivery that passed all of them is
 * logged and enqueued. Rejections store and enqueue nothing; they only count in webhook health.
 */
export class WebhookReceiver {
  private readonly maxBodyBytes: number;
  private readonly toleranceSeconds: number;
  private readonly dedupeTtlMs: number;
  private readonly commit: IntakeGroupCommit;

  constructor(private readonly platform: Platform, private readonly secrets: WebhookSecrets, options: ReceiverOptions = {}) {
    this.maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.toleranceSeconds = options.toleranceSeconds ?? 300;
    this.dedupeTtlMs = options.dedupeTtlMs ?? 24 * 3600 * 1000;
    this.commit = new IntakeGroupCommit(platform);
  }

  async receive(incoming: IncomingWebhook): Promise<ReceiveResult> {
    const { platform } = this;
    const declared = Number(incoming.headers.get('content-length') ?? '0');
    if (declared > this.maxBodyBytes) return this.reject(incoming.connectionId, 413, 'payload_too_large', `The body is larger than ${this.maxBodyBytes} bytes.`);

    const connection = await platform.connections.get(incoming.connectionId);
    const secrets = connection && connection.provider === incoming.provider ? await this.secrets.get(connection.id) : null;
    // A connection that takes no webhooks looks the same as none: nothing to learn by probing.
    if (!connection || !secrets) return { status: 404, code: 'not_found', message: 'There is no webhook endpoint here.' };

    const body = await incoming.readBody();
    if (body.length > this.maxBodyBytes) return this.reject(connection.id, 413, 'payload_too_large', `The body is larger than ${this.maxBodyBytes} bytes.`);

    const verdict = await verifyWebhook('standard-webhooks', {
      secret: { secrets, toleranceSeconds: this.toleranceSeconds },
      method: incoming.method,
      url: incoming.url,
      headers: incoming.headers,
      rawBody: body,
      now: platform.clock.now().getTime() / 1000,
    });
    // The reason (stale timestamp, no matching signature…) goes to health for the operator, never to the caller.
    if (!verdict.valid) return this.reject(connection.id, 401, 'unauthorized', 'The webhook signature could not be verified.', verdict.reason);

    let event: unknown;
    try {
      event = JSON.parse(body.toString('utf8'));
    } catch {
      return this.reject(connection.id, 400, 'validation', 'The body is not valid JSON.');
    }
    const webhookId = incoming.headers.get('webhook-id')!; // the verifier required exactly one
    const deliveryId = deliveryIdFor(connection.id, webhookId);

    const claim = await platform.idempotency.claim(`webhook:${connection.id}:${webhookId}`, this.dedupeTtlMs);
    if (!claim.claimed) return { status: 200, code: 'duplicate', message: 'This delivery was received before.', deliveryId };

    try {
      const now = platform.clock.now().toISOString();
      const headers: Record<string, string> = {};
      for (const name of KEPT_HEADERS) {
        const value = incoming.headers.get(name);
        if (value !== null) headers[name] = value;
      }
      const type = (event as { type?: unknown } | null)?.type;
      const delivery: Delivery = {
        id: deliveryId,
        tenantId: connection.tenantId,
        connectionId: connection.id,
        provider: connection.provider,
        webhookId,
        receivedAt: now,
        status: 'received',
        eventType: typeof type === 'string' ? type.slice(0, 200) : undefined,
        headers,
        body: body.toString('utf8'),
        replays: 0,
        updatedAt: now,
      };
      const message: WebhookInboundMessage = { kind: 'webhook', connectionId: connection.id, deliveryId };
      await this.commit.write(delivery, {
        body: message,
        messageId: webhookMessageId(message),
        sessionId: connection.id,
        applicationProperties: { kind: 'webhook', deliveryId },
      });
    } catch (error) {
      // Not enqueued: forget the claim so that the provider's retry is accepted, not dropped.
      await platform.idempotency.release(`webhook:${connection.id}:${webhookId}`);
      throw error;
    }
    return { status: 202, code: 'accepted', message: 'Accepted.', deliveryId };
  }

  private async reject(connectionId: string, status: number, code: ReceiveResult['code'], message: string, reason?: string): Promise<ReceiveResult> {
    const known = await this.platform.connections.get(connectionId);
    if (known) await this.platform.deliveries.recordHealth(connectionId, 'rejected', this.platform.clock.now().toISOString(), `${status}: ${reason ?? message}`);
    return { status, code, message };
  }
}
