/** One attempt to deliver one event to one target. */
export interface DeliveryAttempt {
  /** `dlv_000001`, in the order attempts started. */
  id: string;
  targetId: string;
  /** The event id, sent as webhook-id; the same on every retry and on a duplicate. */
  messageId: string;
  type: string;
  entity: string;
  recordId: string;
  /** 1-based within one delivery; a duplicate delivery counts from 1 again. */
  attempt: number;
  /** True for the deliberate second delivery of duplicateRate. */
  duplicate: boolean;
  /** The receiver's HTTP status, or null when no answer came (refused, reset, timed out). */
  status: number | null;
  ok: boolean;
  error?: string;
  /** Whether another attempt follows this failed one. */
  willRetry: boolean;
  /** When the attempt started, ISO-8601 with milliseconds. */
  at: string;
  durationMs: number;
}

export interface DeliveryFilter {
  targetId?: string;
  messageId?: string;
  /** The newest `limit` matching attempts; default all that are kept. */
  limit?: number;
}

/** The newest attempts are kept; older ones are dropped so a long run stays bounded. */
const MAX_ATTEMPTS_KEPT = 10_000;

export class DeliveryLog {
  private entries: DeliveryAttempt[] = [];
  private nextNumber = 1;

  add(attempt: Omit<DeliveryAttempt, 'id'>): DeliveryAttempt {
    const entry = { id: `dlv_${String(this.nextNumber++).padStart(6, '0')}`, ...attempt };
    this.entries.push(entry);
    if (this.entries.length > MAX_ATTEMPTS_KEPT * 1.25) this.entries = this.entries.slice(-MAX_ATTEMPTS_KEPT);
    return entry;
  }

  /** Matching attempts, oldest first. */
  list(filter: DeliveryFilter = {}): DeliveryAttempt[] {
    const matching = this.entries.filter(
      (entry) => (filter.targetId === undefined || entry.targetId === filter.targetId) && (filter.messageId === undefined || entry.messageId === filter.messageId),
    );
    return filter.limit === undefined ? matching : matching.slice(-filter.limit);
  }

  clear(): void {
    this.entries = [];
  }
}
