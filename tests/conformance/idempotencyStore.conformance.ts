import type { IdempotencyStore } from '../../shared/ports/idempotencyStore';
import { passTime, uniqueId, type StoreFactory, type StoreFixture } from './fixtures';

/**
 * The IdempotencyStore port's semantics (shared/ports/idempotencyStore.ts), run against every
 * implementation. With a ManualClock the suite moves time; on real time it waits short TTLs out.
 */
export function idempotencyStoreConformance(name: string, factory: StoreFactory<IdempotencyStore>): void {
  describe(`IdempotencyStore conformance: ${name}`, () => {
    let fixture: StoreFixture<IdempotencyStore>;
    let store: IdempotencyStore;
    let key: string;
    let ttlMs: number;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
      key = uniqueId('webhook-delivery');
      ttlMs = fixture.clock ? 60_000 : 1_500;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('lets the first claim win and tells later claimers it was claimed before', async () => {
      expect(await store.claim(key, ttlMs)).toEqual({ claimed: true });
      expect(await store.claim(key, ttlMs)).toEqual({ claimed: false });
      expect(await store.claim(key, ttlMs)).toEqual({ claimed: false });
    });

    it('gives a key to exactly one of many concurrent claimers', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, () => store.claim(key, ttlMs)));
      expect(results.filter((r) => r.claimed)).toHaveLength(1);
    });

    it('claims many keys at once as that many claims in order would', async () => {
      const [fresh, held, done] = [`${key}-fresh`, `${key}-held`, `${key}-done`];
      await store.claim(held, ttlMs);
      await store.claim(done, ttlMs);
      await store.complete(done, { status: 202 });
      expect(await store.claimMany([fresh, held, done, fresh, `${key}-other`], ttlMs)).toEqual([
        { claimed: true },
        { claimed: false },
        { claimed: false, result: { status: 202 } },
        { claimed: false },
        { claimed: true },
      ]);
      expect(await store.claim(fresh, ttlMs)).toEqual({ claimed: false });
      expect(await store.claimMany([], ttlMs)).toEqual([]);
    });

    it('gives a key claimed by concurrent batches to exactly one of them', async () => {
      const batches = await Promise.all(Array.from({ length: 5 }, (_, i) => store.claimMany([`${key}-own-${i}`, key], ttlMs)));
      expect(batches.map((claims) => claims[0])).toEqual(Array.from({ length: 5 }, () => ({ claimed: true })));
      expect(batches.filter((claims) => claims[1].claimed)).toHaveLength(1);
    });

    it('hands the completed result to later claimers', async () => {
      await store.claim(key, ttlMs);
      const result = { status: 201, externalId: 'cus_42', tags: ['a'], nested: { ok: true } };
      await store.complete(key, result);
      expect(await store.claim(key, ttlMs)).toEqual({ claimed: false, result });
    });

    it('keeps keys independent', async () => {
      await store.claim(key, ttlMs);
      expect(await store.claim(`${key}-other`, ttlMs)).toEqual({ claimed: true });
    });

    it('lets a released key be claimed again', async () => {
      await store.claim(key, ttlMs);
      await store.release(key);
      expect(await store.claim(key, ttlMs)).toEqual({ claimed: true });
    });

    it('releasing a key nobody claimed is harmless', async () => {
      await store.release(key);
      expect(await store.claim(key, ttlMs)).toEqual({ claimed: true });
    });

    it('holds a claim until its TTL passes, then lets it be claimed again without the old result', async () => {
      await store.claim(key, ttlMs);
      await store.complete(key, { done: 1 });
      await passTime(fixture, ttlMs / 2);
      expect(await store.claim(key, ttlMs)).toEqual({ claimed: false, result: { done: 1 } });
      await passTime(fixture, ttlMs / 2 + 100);
      expect(await store.claim(key, ttlMs)).toEqual({ claimed: true });
      expect(await store.claim(key, ttlMs)).toEqual({ claimed: false });
    });

    it('keeps a key completed with a TTL for that TTL from the completion, past the claim\'s own', async () => {
      await store.claim(key, ttlMs / 2); // a short claim while the work is in flight
      await store.complete(key, { enqueued: true }, { ttlMs: ttlMs * 2 });
      await passTime(fixture, ttlMs / 2 + 100);
      expect(await store.claim(key, ttlMs)).toEqual({ claimed: false, result: { enqueued: true } });
      await passTime(fixture, ttlMs * 1.5);
      expect(await store.claim(key, ttlMs)).toEqual({ claimed: true });
    });
  });
}
