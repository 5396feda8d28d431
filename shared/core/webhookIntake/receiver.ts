import { hash } from 'node:crypto';
import type { DeliveryIntake, IntakeEntry } from '../../ports/deliveryIntake';
import type { Platform } from '../../ports/platform';
import { readNotionVerificationToken } from '../../webhooks/schemes/notion';
import { prepareWebhookVerification, type PreparedWebhookVerification } from '../../webhooks/verifyWebhook';
import { DELIVERY_ID_PREFIX } from '../runs/inboundMessage';
import type { WebhookScheme } from '../../webhooks/types';
import { IntakeGroupCommit } from './groupCommit';
import { intakeEntryOf } from './intakeEntry';
import { ReceiptConnections } from './receiptConnections';
import { RejectionTally } from './rejectionTally';
import { KEPT_HEADERS, eventTypeOf, providerDeliveryId } from './schemeEvents';
import { DEFAULT_WEBHOOK_SCHEME, type WebhookSecrets, type WebhookSettings } from './secrets';
import { currentTraceparent } from '../traceContext';

export interface ReceiverOptions {
  /** Larger bodies get 413. Default 1 MB. */
  maxBodyBytes?: number;
  /** Accepted age (and future skew) of `webhook-timestamp`. Default 300 s, as the spec suggests. */
  toleranceSeconds?: number;
  /** How long a delivery id is remembered for dropping duplicates. Default 24 h. */
  dedupeTtlMs?: number;
  /**
   * The public base URL providers call (e.g. https://syncbridge.example.com), behind a proxy or a
   * tunnel: Twilio signs the exact URL it called, so the receiver rebuilds it from this base plus the
   * request's path and query. Default: the request URL as received.
   */
  publicBaseUrl?: string;
  /**
   * How long a connection's tenant and provider, read for one delivery, serve the next ones
   * (receiptConnections.ts). Default 1000 ms; 0 reads the connection for every delivery.
   */
  connectionCacheMs?: number;
}

/** The request headers a delivery keeps in its log row. */
const KEPT: ReadonlySet<string> = new Set(KEPT_HEADERS);

/** Schemes that carry a signed timestamp and take `toleranceSeconds`. */
const TIMESTAMPED: readonly WebhookScheme[] = ['standard-webhooks', 'svix', 'slack', 'stripe', 'zoom', 'hmac'];
/** Schemes whose bodies are not JSON: Twilio posts forms, Salesforce Outbound Messages are SOAP. */
const NON_JSON: readonly WebhookScheme[] = ['twilio', 'salesforce'];

/**
 * Salesforce retries an Outbound Message until it gets this SOAP answer (200 with Ack true); our
 * 202 JSON would look like a failure to it.
 */
const SALESFORCE_ACK = {
  status: 200,
  headers: { 'content-type': 'text/xml; charset=utf-8' },
  body:
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">' +
    '<soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>' +
    '</soapenv:Body></soapenv:Envelope>',
};

export interface IncomingWebhook {
  provider: string;
  connectionId: string;
  method: string;
  url: string;
  headers: Headers;
  /**
   * Reads the raw body once, no further than `maxBytes`: `undefined` as soon as it grows past them,
   * the rest left unread. The receiver calls it only after the checks that need no body (declared
   * length, connection), so a body it refuses is never buffered.
   */
  readBody(maxBytes: number): Promise<Buffer | undefined>;
}

/** What to answer: 202 accepted, 200 a duplicate, anything else a rejection with a safe message. */
export interface ReceiveResult {
  status: number;
  code: 'accepted' | 'duplicate' | 'handshake' | 'in_progress' | 'not_found' | 'payload_too_large' | 'unauthorized' | 'validation';
  message: string;
  deliveryId?: string;
  /**
   * The exact answer the provider expects, when it is not our JSON: a handshake's, or the SOAP
   * acknowledgement of a Salesforce Outbound Message (accepted or duplicate).
   */
  reply?: { status: number; headers: Record<string, string>; body: string };
}

/**
 * Ours, stable per (connection, provider delivery id): a retried intake lands on the same row and
 * message id. (The one-shot `hash` costs a third of a Hash object's create-update-digest: 0.6 µs
 * against 1.7 µs per id, on every webhook received.)
 */
export function deliveryIdFor(connectionId: string, webhookId: string): string {
  return `${DELIVERY_ID_PREFIX}${hash('sha256', `${connectionId}\n${webhookId}`, 'base64url').slice(0, 24)}`;
}

/** Base-36 digits of the receipt time in an ordered id: fixed width, so that ids sort as their times do (until the year 5188). */
const ORDERED_TIME_DIGITS = 9;

/**
 * Ours, beginning with the time of receipt (milliseconds, base 36, fixed width) and ending with 96
 * bits of the same hash as deliveryIdFor, for an intake that may take such ids
 * (DeliveryIntake.ordersDeliveryIds: the local journal). A B-tree index of these ids grows at its
 * end; one of derived ids takes each new id at a random page (docs/webhook-intake.md "Ordered
 * delivery ids"). Unique as long as one connection does not receive two different provider ids
 * with the same 96-bit hash in the same millisecond.
 */
export function orderedDeliveryIdFor(connectionId: string, webhookId: string, receivedAtMs: number): string {
  const time = Math.max(0, Math.floor(receivedAtMs)).toString(36).padStart(ORDERED_TIME_DIGITS, '0');
  return `${DELIVERY_ID_PREFIX}${time}${hash('sha256', `${connectionId}\n${webhookId}`, 'base64url').slice(0, 16)}`;
}

/**
 * The receiving half of webhook intake: cheap checks first (declared size, connection, both before
 * any of the body is read; then the size of what is read), then the signature
 * on the raw bytes, then JSON, then the duplicate check; only a delivery that passed all of them is
 * logged and enqueued. Rejections store and enqueue nothing; they only count in webhook health.
 */
export class WebhookReceiver {
  private readonly maxBodyBytes: number;
  private readonly toleranceSeconds: number;
  private readonly dedupeTtlMs: number;
  private readonly commit: DeliveryIntake;
  private readonly rejections: RejectionTally;
  private readonly connections: ReceiptConnections;

  constructor(private readonly platform: Platform, private readonly secrets: WebhookSecrets, options: ReceiverOptions = {}) {
    this.maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.toleranceSeconds = options.toleranceSeconds ?? 300;
    this.dedupeTtlMs = options.dedupeTtlMs ?? 24 * 3600 * 1000;
    this.commit = platform.webhookIntake ?? new IntakeGroupCommit(platform, this.dedupeTtlMs);
    this.rejections = new RejectionTally(platform.deliveries, platform.webhookIntake);
    this.connections = new ReceiptConnections(platform.connections, { ttlMs: options.connectionCacheMs });
    this.publicBaseUrl = options.publicBaseUrl?.replace(/\/+$/, '');
  }

  private readonly publicBaseUrl: string | undefined;

  /** The URL the provider called: the request's path and query on the public base when one is set. */
  private publicUrl(url: string): string {
    if (!this.publicBaseUrl) return url;
    const parsed = new URL(url);
    return `${this.publicBaseUrl}${parsed.pathname}${parsed.search}`;
  }

  async receive(incoming: IncomingWebhook): Promise<ReceiveResult> {
    const { platform } = this;
    const receivedAtMs = Date.now();
    const declared = Number(incoming.headers.get('content-length') ?? '0');
    if (declared > this.maxBodyBytes) return this.reject(incoming.connectionId, 413, 'payload_too_large', `The body is larger than ${this.maxBodyBytes} bytes.`);

    const connection = await this.connections.get(incoming.connectionId);
    const settings = connection ? await this.secrets.settings(connection.id) : null;
    // The path names the connection's provider, or the scheme's (e.g. /webhooks/github/{id}).
    const pathFits = connection && settings && (connection.provider === incoming.provider || settings.scheme === incoming.provider);
    // A connection that takes no webhooks looks the same as none: nothing to learn by probing.
    if (!connection || !settings || !pathFits) return { status: 404, code: 'not_found', message: 'There is no webhook endpoint here.' };

    const body = await incoming.readBody(this.maxBodyBytes);
    if (body === undefined || body.length > this.maxBodyBytes) return this.reject(connection.id, 413, 'payload_too_large', `The body is larger than ${this.maxBodyBytes} bytes.`);

    const scheme = settings.scheme;
    const verdict = await this.verification(settings).verify({
      method: incoming.method,
      url: this.publicUrl(incoming.url),
      headers: incoming.headers,
      rawBody: body,
      now: platform.clock.now().getTime() / 1000,
    });
    // A provider's endpoint check (Slack challenge, Graph validationToken, Notion token, Zoom
    // url_validation): answered as the provider expects, never logged or enqueued.
    if (verdict.handshake) {
      if (scheme === 'notion') {
        const token = readNotionVerificationToken(body);
        if (token) await this.secrets.recordNotionVerificationToken(connection.tenantId, connection.id, settings, token);
      }
      return { status: verdict.handshake.status, code: 'handshake', message: 'Handshake.', reply: verdict.handshake };
    }
    // The reason (stale timestamp, no matching signature…) goes to health for the operator, never to the caller.
    if (!verdict.valid) return this.reject(connection.id, 401, 'unauthorized', 'The webhook signature could not be verified.', verdict.reason);

    const text = body.toString('utf8');
    let event: unknown;
    try {
      event = JSON.parse(text);
    } catch {
      if (!NON_JSON.includes(scheme)) return this.reject(connection.id, 400, 'validation', 'The body is not valid JSON.');
      event = undefined;
    }
    const webhookId = providerDeliveryId(scheme, incoming.headers, event, body);
    const { commit } = this;
    const deliveryId = commit.ordersDeliveryIds ? orderedDeliveryIdFor(connection.id, webhookId, receivedAtMs) : deliveryIdFor(connection.id, webhookId);

    const reply = scheme === 'salesforce' && event === undefined ? SALESFORCE_ACK : undefined;
    const now = platform.clock.now().toISOString();
    // One pass over the request's headers (lower-case names, repeats joined as get() joins them):
    // 0.4 µs against 3.2 µs for a get() of each of the 17 kept names (a micro-loop, node 20).
    const headers: Record<string, string> = {};
    for (const [name, value] of incoming.headers) if (KEPT.has(name)) headers[name] = value;
    // De-duplicated, logged and enqueued together with the other deliveries of this moment.
    const entry = intakeEntryOf({
      deliveryId,
      tenantId: connection.tenantId,
      connectionId: connection.id,
      // The sandbox's own scheme carries the connection's provider; any other scheme names the
      // provider that signed it (github, stripe…), which the applier looks up among the adapters.
      provider: scheme === DEFAULT_WEBHOOK_SCHEME ? connection.provider : scheme,
      webhookId,
      receivedAt: now,
      eventType: eventTypeOf(scheme, incoming.headers, event),
      headers,
      body: text,
      traceparent: currentTraceparent(),
    });
    const outcome = await commit.write(entry);
    if (outcome === 'duplicate') {
      // Named by the id it was taken with: the intake's record of it, else the derived id every
      // delivery taken before ordered ids has (claims from before then hold no id).
      return { status: 200, code: 'duplicate', message: 'This delivery was received before.', deliveryId: this.originalId(entry, connection.id, webhookId), reply };
    }
    // Not a duplicate yet: the first attempt may still fail, so the sender must come back.
    if (outcome === 'in_progress') return { status: 503, code: 'in_progress', message: 'An earlier attempt of this delivery is still being enqueued; retry shortly.', deliveryId };
    // Receipt to durably logged and enqueued: what the provider waits for before it sees 202.
    platform.telemetry.metric('WebhookLatencyMs', Date.now() - receivedAtMs, { connectionId: connection.id, scheme });
    return { status: 202, code: 'accepted', message: 'Accepted.', deliveryId, reply };
  }

  /**
   * The scheme's options parsed once per settings document (WebhookSecrets hands out the same
   * object until it reads the settings again), with the receiver's timestamp tolerance where the
   * settings name none. Options that do not fit the scheme throw here, as verifyWebhook would.
   */
  private verification(settings: WebhookSettings): PreparedWebhookVerification {
    let prepared = this.prepared.get(settings);
    if (prepared === undefined) {
      const secret = TIMESTAMPED.includes(settings.scheme) && settings.options.toleranceSeconds === undefined
        ? { ...settings.options, toleranceSeconds: this.toleranceSeconds }
        : settings.options;
      prepared = prepareWebhookVerification(settings.scheme, secret as never);
      this.prepared.set(settings, prepared);
    }
    return prepared;
  }

  private readonly prepared = new WeakMap<WebhookSettings, PreparedWebhookVerification>();

  /** The id a duplicate's earlier delivery was taken with (DeliveryIntake.deliveryIdOf), else the derived one. */
  private originalId(entry: IntakeEntry, connectionId: string, webhookId: string): string {
    try {
      const known = this.commit.deliveryIdOf?.(entry);
      if (known !== undefined) return known;
    } catch (error) {
      // A failed read (of a claim) costs the answer its exact id, never the answer itself.
      this.platform.telemetry.log('warn', 'The id of a duplicate webhook delivery could not be read; its derived id is named.', { connectionId, reason: (error as Error).message });
    }
    return deliveryIdFor(connectionId, webhookId);
  }

  private async reject(connectionId: string, status: number, code: ReceiveResult['code'], message: string, reason?: string): Promise<ReceiveResult> {
    const known = await this.connections.get(connectionId);
    if (known) {
      // The refusal stands whether or not its count could be written: a 5xx would only invite the
      // sender (or a forger) to try again.
      await this.rejections.record(connectionId, this.platform.clock.now().toISOString(), `${status}: ${reason ?? message}`).catch((error: unknown) => {
        this.platform.telemetry.log('warn', 'A refused webhook could not be counted in webhook health.', { connectionId, reason: (error as Error).message });
      });
    }
    return { status, code, message };
  }
}
