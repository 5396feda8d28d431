import type { ListPageResult } from '../../../shared/adapters/adapter';
import { PagePrefetcher } from '../../../shared/core/runs/pagePrefetcher';

const page = (n: number): ListPageResult => ({ records: [], nextCursor: `c${n}`, total: null });
const request = { entity: 'orders', since: null, cursor: 'c1', limit: 10 };

describe('page read-ahead', () => {
  test('a prefetched page is handed out once, to the step that asks for exactly that page', async () => {
    const prefetcher = new PagePrefetcher();
    let calls = 0;
    const key = PagePrefetcher.key('conn', request);
    prefetcher.prefetch(key, async () => {
      calls += 1;
      return page(2);
    });
    prefetcher.prefetch(key, async () => page(99)); // already in flight: not fetched twice
    expect(await prefetcher.take(PagePrefetcher.key('conn', { ...request, cursor: 'other' }))).toBeUndefined();
    expect(await prefetcher.take(PagePrefetcher.key('other-conn', request))).toBeUndefined();
    expect(await prefetcher.take(key)).toEqual(page(2));
    expect(await prefetcher.take(key)).toBeUndefined();
    expect(calls).toBe(1);
  });

  test('a failed prefetch is forgotten, never an unhandled rejection, so the step fetches itself', async () => {
    const prefetcher = new PagePrefetcher();
    const key = PagePrefetcher.key('conn', request);
    prefetcher.prefetch(key, async () => {
      throw new Error('503 from the provider');
    });
    expect(await prefetcher.take(key)).toBeUndefined();
  });

  test('stale pages are not used', async () => {
    const prefetcher = new PagePrefetcher({ maxAgeMs: 1 });
    const key = PagePrefetcher.key('conn', request);
    prefetcher.prefetch(key, async () => page(2));
    await new Promise((r) => setTimeout(r, 5));
    expect(await prefetcher.take(key)).toBeUndefined();
  });

  test('it holds a bounded number of pages, dropping the oldest', async () => {
    const prefetcher = new PagePrefetcher({ maxPages: 2 });
    const keys = [1, 2, 3].map((n) => PagePrefetcher.key('conn', { ...request, cursor: `c${n}` }));
    keys.forEach((key, i) => prefetcher.prefetch(key, async () => page(i)));
    expect(await prefetcher.take(keys[0])).toBeUndefined();
    expect(await prefetcher.take(keys[2])).toEqual(page(2));
  });
});
