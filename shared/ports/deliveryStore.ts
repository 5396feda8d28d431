import type { IsoTime } from '../core/model';

/**
 * received → applied | ignored | failed | held; a failed delivery may still become applied (a
 * replay, a provider's resend past the dedupe window; not the broker delivering the message that
 * settled it again, see `settledBy`). `held`: its connection was paused when the worker came to
 * it; it has no queue message and waits for the connection's resume, which enqueues it again
 * (received).
 */
export type DeliveryStatus = 'received' | 'applied' | 'ignored' | 'failed' | 'held';

/** Statuses retention never removes: their change is not applied yet (see DeliveryStore). */
export const UNSETTLED_DELIVERY_STATUSES: readonly DeliveryStatus[] = ['received', 'held'];

/** One accepted webhook delivery, kept so that it can be listed, diagnosed and replayed. */
export interface Delivery {
  /** Ours, derived from (connection, provider's delivery id): a retried intake finds the same row. */
  id: string;
  tenantId: string;
  connectionId: string;
  provider: string;
  /** The provider's delivery id (`webhook-id`). */
  webhookId: string;
  receivedAt: IsoTime;
  status: DeliveryStatus;
  /** The event's `type` when the body names one. */
  eventType?: string;
  /** Why it was ignored or failed; never holds secrets. */
  detail?: string;
  /** Non-secret request headers (id, timestamp, content type, user agent); never the signature. */
  headers: Record<string, string>;
  /** The raw body as received (UTF-8), for replay; the intake's size limit caps it. */
  body: string;
  /** How many times it was replayed by hand. */
  replays: number;
  /**
   * The broker's sequence number of the message that settled it (applied, ignored, failed): that
   * message, delivered again, leaves it as it is (supersededMessage.ts). Absent on rows settled
   * before the field existed, or by a caller that names no message.
   */
  settledBy?: string;
  updatedAt: IsoTime;
}

export interface DeliveryListQuery {
  tenantId: string;
  connectionId: string;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
  limit: number;
}

export interface DeliveryPage {
  deliveries: Delivery[];
  nextCursor: string | null;
}

/** Per-connection webhook health: what was received, rejected and failed, and when. */
export interface WebhookHealth {
  connectionId: string;
  received: number;
  rejected: number;
  failures: number;
  lastReceivedAt: IsoTime | null;
  lastRejectedAt: IsoTime | null;
  lastFailureAt: IsoTime | null;
  /** The last rejection or failure reason; never holds secrets. */
  lastError: string | null;
}

export type WebhookHealthEvent = 'received' | 'rejected' | 'failed';

/**
 * The webhook delivery log and webhook health counters.
 *
 * Semantics (tests/conformance/deliveryStore.conformance.ts):
 * - `insert` stores a delivery and counts it as received in its connection's health, in one write;
 *   an id that exists already leaves the first one (and the counters) alone and returns false
 *   (a retried intake of the same provider delivery).
 * - `get` returns a delivery by id, or undefined.
 * - `list` is scoped to tenant and connection, newest first (insertion order), paged by cursor.
 * - An implementation may keep only the newest deliveries of a connection (a documented retention,
 *   at least thousands, by count or by age); within it, nothing is lost. A delivery still
 *   `received` or `held` is outside any retention: its change is not applied yet (a worker that
 *   finds its delivery gone skips the message; a held one is enqueued again from the log on
 *   resume), so dropping it would lose a change. It becomes subject to retention once applied,
 *   ignored or failed (and is exempt again when replayed or held).
 * - `listHeld` returns a connection's `held` deliveries oldest first (insertion order, which is
 *   receipt order), at most `limit`, without bodies; scoped to tenant and connection.
 * - `update` changes status, detail, eventType, replays and settledBy of an existing delivery; unknown id → false.
 * - `recordHealth` counts `count` events (default 1) of one kind for a connection, the last at `at`
 *   with `detail` as the last error; `health` reads the counters (zeros when none).
 */
export interface DeliveryStore {
  insert(delivery: Delivery): Promise<boolean>;
  /** `insert` for several at once, in one write where the store can (the intake's group commit). */
  insertMany(deliveries: readonly Delivery[]): Promise<boolean[]>;
  get(id: string): Promise<Delivery | undefined>;
  list(query: DeliveryListQuery): Promise<DeliveryPage>;
  listHeld(tenantId: string, connectionId: string, limit: number): Promise<Delivery[]>;
  update(id: string, change: Partial<Pick<Delivery, 'status' | 'detail' | 'eventType' | 'replays' | 'settledBy'>>, at: IsoTime): Promise<boolean>;
  recordHealth(connectionId: string, event: WebhookHealthEvent, at: IsoTime, detail?: string, count?: number): Promise<void>;
  health(connectionId: string): Promise<WebhookHealth>;
}
