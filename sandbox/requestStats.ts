/** Which part of the API a request hit; stats are grouped by it. Writes are POST, PUT, PATCH and DELETE. */
export type PathKind = 'list' | 'record' | 'write' | 'unknown';

/** What fault injection and the rate limiter did, so that tests can prove a client retried. */
export type InjectedEvent = 'error5xx' | 'rate429' | 'truncated' | 'slowed' | 'rateLimited' | 'echoedCredentials' | 'rejectedWrites';

/** What /v1 writes did; a replayed or refused write changed nothing. */
export type WriteEvent = 'created' | 'updated' | 'replaced' | 'deleted' | 'idempotentReplays' | 'idempotencyMismatches' | 'preconditionFailed' | 'validationFailed';

export interface RequestStatsSnapshot {
  /** Provider API (/v1) requests answered or cut off. */
  total: number;
  /** Counts by path kind, then by HTTP status (as a string key). */
  byKind: Record<PathKind, Record<string, number>>;
  /** Counts by status over all kinds. */
  byStatus: Record<string, number>;
  injected: Record<InjectedEvent, number>;
  writes: Record<WriteEvent, number>;
}

/** Counts provider API requests; the control API (/_sandbox) is not counted. */
export class RequestStats {
  private snapshot: RequestStatsSnapshot = emptyStats();

  record(kind: PathKind, status: number): void {
    const key = String(status);
    this.snapshot.total++;
    this.snapshot.byKind[kind][key] = (this.snapshot.byKind[kind][key] ?? 0) + 1;
    this.snapshot.byStatus[key] = (this.snapshot.byStatus[key] ?? 0) + 1;
  }

  injected(event: InjectedEvent): void {
    this.snapshot.injected[event]++;
  }

  write(event: WriteEvent): void {
    this.snapshot.writes[event]++;
  }

  read(): RequestStatsSnapshot {
    return structuredClone(this.snapshot);
  }

  clear(): void {
    this.snapshot = emptyStats();
  }
}

function emptyStats(): RequestStatsSnapshot {
  return {
    total: 0,
    byKind: { list: {}, record: {}, write: {}, unknown: {} },
    byStatus: {},
    injected: { error5xx: 0, rate429: 0, truncated: 0, slowed: 0, rateLimited: 0, echoedCredentials: 0, rejectedWrites: 0 },
    writes: { created: 0, updated: 0, replaced: 0, deleted: 0, idempotentReplays: 0, idempotencyMismatches: 0, preconditionFailed: 0, validationFailed: 0 },
  };
}
