import { createHash } from 'node:crypto';
import { SyncBridgeError } from '../errors';
import { finalizeStepId, stepId } from '../ids';

/**
 * Messages on the `sync-inbound` queue. One message is one bounded step of one run.
 * `attempt` counts failed tries of this page (transient provider errors); `waits` counts
 * rate-limit reschedules. Both are part of the message id so that a retry is not dropped as a
 * duplicate of the try that failed. `redrive` counts the run watchdog's re-sends of a step whose
 * message went missing (runWatchdog.ts), for the same reason.
 */
export type InboundMessage =
  | { kind: 'page'; runId: string; entity: string; page: number; attempt: number; waits: number; resume?: number; redrive?: number }
  | { kind: 'finalize'; runId: string; attempt: number; resume?: number; redrive?: number };

export function inboundMessageId(message: InboundMessage): string {
  const base = message.kind === 'page' ? stepId(message.runId, message.entity, message.page) : finalizeStepId(message.runId);
  const parts = [base];
  if (message.resume) parts.push(`r${message.resume}`);
  if (message.redrive) parts.push(`d${message.redrive}`);
  if (message.attempt > 0) parts.push(`a${message.attempt}`);
  if (message.kind === 'page' && message.waits > 0) parts.push(`w${message.waits}`);
  return parts.join(':');
}

function isNonNegativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/**
 * A received webhook delivery to apply (shared/core/webhookIntake). `replay` counts hand replays;
 * `attempt` counts scheduled retries after a transient provider failure and `waits` rate-limit
 * reschedules, as for run steps. All three are part of the message id, so that a replay or a retry
 * is a new message and not a duplicate the broker drops.
 */
export interface WebhookInboundMessage {
  kind: 'webhook';
  connectionId: string;
  deliveryId: string;
  replay?: number;
  attempt?: number;
  waits?: number;
}

/**
 * A resumed connection's second release of its held webhook deliveries, scheduled by the resume a
 * little later (shared/core/webhookIntake/heldDeliveries.ts, sweepHeld): it releases what a stale
 * read hid from the resume's own release.
 */
export interface HeldSweepMessage {
  kind: 'held-sweep';
  connectionId: string;
}

/**
 * Several received deliveries of one connection, applied one after another in this order, in one
 * invocation: the local platform's journal drain enqueues a batch per connection
 * (shared/platform/local/localPlatform.ts), so that a burst costs one queue message and one
 * commit instead of one each. Each is applied exactly as its own `webhook` message would be.
 */
export interface WebhookBatchInboundMessage {
  kind: 'webhook-batch';
  connectionId: string;
  deliveryIds: string[];
}

/** Everything the `sync-inbound` queue carries: run steps, webhook deliveries (one or a batch) and held sweeps. */
export type InboundQueueMessage = InboundMessage | WebhookInboundMessage | WebhookBatchInboundMessage | HeldSweepMessage;

/** How every webhook-batch message id starts (the local journal drain counts those waiting by it). */
export const WEBHOOK_BATCH_MESSAGE_ID_PREFIX = 'wb_';

/** How every delivery id starts (deliveryIdFor), and so every `webhook` message's id. */
export const DELIVERY_ID_PREFIX = 'dlv_';

/** The starts of the ids of the messages that carry webhook deliveries: one (`webhook`) or a batch. */
export const WEBHOOK_MESSAGE_ID_PREFIXES: readonly string[] = [DELIVERY_ID_PREFIX, WEBHOOK_BATCH_MESSAGE_ID_PREFIX];

/** The message id of a batch: derived from its deliveries, so the same batch sent twice is one message. */
export function webhookBatchMessageId(message: WebhookBatchInboundMessage): string {
  return `${WEBHOOK_BATCH_MESSAGE_ID_PREFIX}${createHash('sha256').update(message.deliveryIds.join('\n')).digest('base64url').slice(0, 32)}`;
}

export function webhookMessageId(message: WebhookInboundMessage): string {
  const parts = [message.deliveryId];
  if (message.replay) parts.push(`r${message.replay}`);
  if (message.attempt) parts.push(`a${message.attempt}`);
  if (message.waits) parts.push(`w${message.waits}`);
  return parts.join(':');
}

/** Parses any `sync-inbound` body; run steps go through parseInboundMessage. */
export function parseInboundQueueMessage(body: unknown): InboundQueueMessage {
  const value = (typeof body === 'string' ? JSON.parse(body) : body) as Record<string, unknown> | null;
  if (value?.kind === 'held-sweep') {
    if (typeof value.connectionId === 'string') return { kind: 'held-sweep', connectionId: value.connectionId };
    throw new SyncBridgeError('validation', `The inbound queue message is not a held sweep: ${JSON.stringify(body).slice(0, 200)}`);
  }
  if (value?.kind === 'webhook-batch') {
    const ids = value.deliveryIds;
    if (typeof value.connectionId === 'string' && Array.isArray(ids) && ids.length > 0 && ids.every((id) => typeof id === 'string')) {
      return { kind: 'webhook-batch', connectionId: value.connectionId, deliveryIds: ids as string[] };
    }
    throw new SyncBridgeError('validation', `The inbound queue message is not a webhook batch: ${JSON.stringify(body).slice(0, 200)}`);
  }
  if (value?.kind !== 'webhook') return parseInboundMessage(value);
  const counter = (field: unknown): field is number | undefined => field === undefined || isNonNegativeInt(field);
  if (typeof value.connectionId === 'string' && typeof value.deliveryId === 'string' && counter(value.replay) && counter(value.attempt) && counter(value.waits)) {
    const message: WebhookInboundMessage = { kind: 'webhook', connectionId: value.connectionId, deliveryId: value.deliveryId, replay: value.replay };
    if (value.attempt) message.attempt = value.attempt;
    if (value.waits) message.waits = value.waits;
    return message;
  }
  throw new SyncBridgeError('validation', `The inbound queue message is not a webhook delivery: ${JSON.stringify(body).slice(0, 200)}`);
}

/** Parses a queue message body; a malformed one is a programming error upstream, so it throws. */
export function parseInboundMessage(body: unknown): InboundMessage {
  const value = (typeof body === 'string' ? JSON.parse(body) : body) as Record<string, unknown> | null;
  if (value && typeof value.runId === 'string' && isNonNegativeInt(value.attempt)) {
    const resume = isNonNegativeInt(value.resume) ? value.resume : undefined;
    const redrive = isNonNegativeInt(value.redrive) && value.redrive > 0 ? { redrive: value.redrive } : {};
    if (value.kind === 'finalize') return { kind: 'finalize', runId: value.runId, attempt: value.attempt, resume, ...redrive };
    if (value.kind === 'page' && typeof value.entity === 'string' && isNonNegativeInt(value.page) && value.page >= 1 && isNonNegativeInt(value.waits)) {
      return { kind: 'page', runId: value.runId, entity: value.entity, page: value.page, attempt: value.attempt, waits: value.waits, resume, ...redrive };
    }
  }
  throw new SyncBridgeError('validation', `The inbound queue message is not a sync step: ${JSON.stringify(body).slice(0, 200)}`);
}
