import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureError } from '../../shared/core/errors';
import { Clock, systemClock } from '../../shared/ports/clock';
import { SeededRandom, foldSeed, hashIntegers } from '../random';
import { RecordChange } from '../recordChanges';
import { formatSecond } from '../timeline';
import { DeliveryFilter, DeliveryAttempt, DeliveryLog } from './deliveryLog';
import { WebhookTargetSettings } from './webhookTarget';
import { signatureHeader } from './webhookSigning';

/** An event serialised for one target; the body is fixed so every retry signs the same bytes. */
interface QueuedEvent {
  id: string;
  type: string;
  entity: string;
  recordId: string;
  body: string;
}

export interface WebhookTargetView {
  id: string;
  url: string;
  entities: string[] | null;
  idOnlyEntities: string[];
  secrets: number;
  duplicateRate: number;
  maxAttempts: number;
  initialRetryMs: number;
  maxRetryMs: number;
  timeoutMs: number;
  /** Events waiting, including the one being delivered. */
  pending: number;
  delivered: number;
  /** Events given up after maxAttempts. */
  failed: number;
  duplicatesSent: number;
  /** Events refused because maxPendingEvents were already waiting. */
  dropped: number;
}

/** Bounds memory when a receiver is down and changes keep coming (a bulk mutate of 100,000). */
const MAX_PENDING_EVENTS = 100_000;

class Target {
  private queue: QueuedEvent[] = [];
  private head = 0;
  draining = false;
  closed = false;
  readonly abort = new AbortController();
  readonly counters = { delivered: 0, failed: 0, duplicatesSent: 0, dropped: 0 };

  constructor(
    readonly id: string,
    readonly settings: WebhookTargetSettings,
    readonly random: SeededRandom,
  ) {}

  get pending(): number {
    return this.queue.length - this.head;
  }

  enqueue(event: QueuedEvent): void {
    if (this.pending >= MAX_PENDING_EVENTS) this.counters.dropped++;
    else this.queue.push(event);
  }

  peek(): QueuedEvent | undefined {
    return this.queue[this.head];
  }

  shift(): void {
    this.head++;
    // Compacts now and then instead of Array.shift per event, which is O(n) on a long queue.
    if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * Sends a signed event to every registered target on every record change. Publishing only queues
 * (the mutation does not wait); each target has one sender that delivers its events strictly in
 * order, retrying a failed event with exponential backoff before moving on, and every attempt is
 * logged. Retries are not jittered, so the log of a test run is predictable.
 */
export class WebhookDispatcher {
  private readonly targets = new Map<string, Target>();
  private readonly log = new DeliveryLog();
  private nextTargetNumber = 1;

  constructor(
    private readonly seed: number,
    private readonly clock: Clock = systemClock,
  ) {}

  register(settings: WebhookTargetSettings): WebhookTargetView {
    const number = this.nextTargetNumber++;
    const target = new Target(`wh_${number}`, settings, new SeededRandom(hashIntegers(foldSeed(this.seed), number)));
    this.targets.set(target.id, target);
    return view(target);
  }

  /** Stops one target: its queue is dropped and an attempt in flight is aborted. */
  remove(id: string): boolean {
    const target = this.targets.get(id);
    if (!target) return false;
    stop(target);
    this.targets.delete(id);
    return true;
  }

  /** Removes every target and forgets the delivery log. */
  clear(): void {
    for (const target of this.targets.values()) stop(target);
    this.targets.clear();
    this.log.clear();
  }

  close(): void {
    for (const target of this.targets.values()) stop(target);
  }

  list(): WebhookTargetView[] {
    return [...this.targets.values()].map(view);
  }

  deliveries(filter?: DeliveryFilter): DeliveryAttempt[] {
    return this.log.list(filter);
  }

  /** Called inside every mutation: serialises the event per target and queues it, nothing more. */
  publish(change: RecordChange): void {
    if (this.targets.size === 0) return;
    const id = `evt_${randomBytes(12).toString('hex')}`;
    const type = `${change.entity}.${change.kind}`;
    const createdAt = formatSecond(change.second);
    let fullBody: string | undefined;
    let idOnlyBody: string | undefined;
    for (const target of this.targets.values()) {
      if (target.settings.entities && !target.settings.entities.includes(change.entity)) continue;
      const body = target.settings.idOnlyEntities.includes(change.entity)
        ? (idOnlyBody ??= JSON.stringify({ id, type, created_at: createdAt, data: { entity: change.entity, id: change.id } }))
        : (fullBody ??= JSON.stringify({ id, type, created_at: createdAt, data: { entity: change.entity, record: change.record } }));
      target.enqueue({ id, type, entity: change.entity, recordId: change.id, body });
      if (!target.draining) {
        target.draining = true;
        setImmediate(() => void this.drain(target));
      }
    }
  }

  private async drain(target: Target): Promise<void> {
    try {
      for (let event = target.peek(); event && !target.closed; event = target.peek()) {
        const delivered = await this.deliver(target, event, false);
        if (target.closed) return;
        if (delivered) {
          target.counters.delivered++;
          // The duplicate goes right after the original, before the next event, like a sender
          // that lost the receiver's 200 and sent again.
          if (target.settings.duplicateRate > 0 && target.random.next() < target.settings.duplicateRate && (await this.deliver(target, event, true))) {
            target.counters.duplicatesSent++;
          }
        } else {
          target.counters.failed++;
        }
        target.shift();
      }
    } finally {
      target.draining = false;
    }
  }

  /** Attempts one event until a 2xx or maxAttempts; returns whether it was delivered. */
  private async deliver(target: Target, event: QueuedEvent, duplicate: boolean): Promise<boolean> {
    const { maxAttempts, initialRetryMs, maxRetryMs } = target.settings;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const willRetryOnFailure = attempt < maxAttempts;
      if (await this.attempt(target, event, attempt, duplicate, willRetryOnFailure)) return true;
      if (target.closed) return false;
      if (willRetryOnFailure) {
        try {
          await sleep(Math.min(maxRetryMs, initialRetryMs * 2 ** (attempt - 1)), undefined, { signal: target.abort.signal });
        } catch {
          return false;
        }
      }
    }
    return false;
  }

  private async attempt(target: Target, event: QueuedEvent, attempt: number, duplicate: boolean, willRetryOnFailure: boolean): Promise<boolean> {
    const startedMs = this.clock.now().getTime();
    // Signed at send time: Standard Webhooks receivers reject timestamps outside a tolerance.
    const timestamp = Math.floor(startedMs / 1000);
    let status: number | null = null;
    let error: string | undefined;
    try {
      const response = await fetch(target.settings.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'SyncBridge-Sandbox-Webhooks/1.0',
          'webhook-id': event.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signatureHeader(target.settings.keys, event.id, timestamp, event.body),
        },
        body: event.body,
        redirect: 'manual',
        signal: AbortSignal.any([target.abort.signal, AbortSignal.timeout(target.settings.timeoutMs)]),
      });
      status = response.status;
      // Read to the end so the connection can be reused; the content does not matter.
      await response.arrayBuffer().catch(() => undefined);
      if (status < 200 || status > 299) error = `The receiver answered ${status}.`;
    } catch (failure) {
      error = errorName(failure) === 'TimeoutError' ? `No answer within ${target.settings.timeoutMs} ms.` : `The request failed: ${describe(failure)}`;
    }
    if (target.closed) return false;
    const ok = error === undefined;
    this.log.add({
      targetId: target.id,
      messageId: event.id,
      type: event.type,
      entity: event.entity,
      recordId: event.recordId,
      attempt,
      duplicate,
      status,
      ok,
      ...(ok ? {} : { error }),
      willRetry: !ok && willRetryOnFailure,
      at: new Date(startedMs).toISOString(),
      durationMs: this.clock.now().getTime() - startedMs,
    });
    return ok;
  }
}

function stop(target: Target): void {
  target.closed = true;
  target.abort.abort();
}

/**
 * fetch wraps the socket error in `cause`; the code (ECONNREFUSED, …) is what a reader wants.
 * Read by shape, not instanceof: errors from Node's fetch may come from another realm (e.g. under jest).
 */
function describe(failure: unknown): string {
  const cause = (failure as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  const message = (failure as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : ensureError(failure).message;
}

function errorName(failure: unknown): string | undefined {
  const name = (failure as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name : undefined;
}

function view(target: Target): WebhookTargetView {
  const { settings } = target;
  return {
    id: target.id,
    url: settings.url,
    entities: settings.entities ?? null,
    idOnlyEntities: settings.idOnlyEntities,
    secrets: settings.keys.length,
    duplicateRate: settings.duplicateRate,
    maxAttempts: settings.maxAttempts,
    initialRetryMs: settings.initialRetryMs,
    maxRetryMs: settings.maxRetryMs,
    timeoutMs: settings.timeoutMs,
    pending: target.pending,
    ...target.counters,
  };
}
