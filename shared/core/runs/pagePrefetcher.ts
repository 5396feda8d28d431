import type { ListPageRequest, ListPageResult } from '../../adapters/adapter';

export interface PagePrefetcherOptions {
  /** Prefetched pages kept at once (one per connection in flight is enough). Default 16. */
  maxPages?: number;
  /** A prefetched page older than this is not used. Default 30,000 ms. */
  maxAgeMs?: number;
}

interface Entry {
  promise: Promise<ListPageResult>;
  createdAt: number;
}

/**
 * Read-ahead of the next page of a run. While a step processes page N, page N+1 is already on its
 * way, so the provider's time to build and send a page overlaps with our hashing and writing.
 * It is an optimisation only: the next step uses a prefetched page when this process has it
 * (sessions keep a connection on one instance, so it usually does) and fetches as usual otherwise.
 * A prefetch that failed is forgotten and the step fetches again, so errors are handled in one place.
 */
export class PagePrefetcher {
  private readonly entries = new Map<string, Entry>();
  private readonly maxPages: number;
  private readonly maxAgeMs: number;

  constructor(options: PagePrefetcherOptions = {}) {
    this.maxPages = options.maxPages ?? 16;
    this.maxAgeMs = options.maxAgeMs ?? 30_000;
  }

  static key(connectionId: string, request: ListPageRequest): string {
    return JSON.stringify([connectionId, request.entity, request.since, request.cursor, request.limit]);
  }

  /** Starts fetching a page now; a later `take` with the same key gets it. */
  prefetch(key: string, fetchPage: () => Promise<ListPageResult>): void {
    if (this.entries.has(key)) return;
    const promise = fetchPage();
    promise.catch(() => this.entries.delete(key)); // never an unhandled rejection; the step refetches
    this.entries.set(key, { promise, createdAt: Date.now() });
    while (this.entries.size > this.maxPages) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** The prefetched page for the key, if one is fresh and did not fail; removes it either way. */
  async take(key: string): Promise<ListPageResult | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (Date.now() - entry.createdAt > this.maxAgeMs) return undefined;
    try {
      return await entry.promise;
    } catch {
      return undefined;
    }
  }
}
