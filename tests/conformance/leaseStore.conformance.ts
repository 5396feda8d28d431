import type { LeaseStore } from '../../shared/ports/leaseStore';
import { passTime, uniqueId, type StoreFactory, type StoreFixture } from './fixtures';

/**
 * The LeaseStore port's semantics (shared/ports/leaseStore.ts), run against every implementation.
 * With a ManualClock the suite moves time; on real time it uses short leases and waits them out.
 */
export function leaseStoreConformance(name: string, factory: StoreFactory<LeaseStore>): void {
  describe(`LeaseStore conformance: ${name}`, () => {
    let fixture: StoreFixture<LeaseStore>;
    let store: LeaseStore;
    let leaseName: string;
    let ttlMs: number;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
      leaseName = uniqueId('token-refresh');
      ttlMs = fixture.clock ? 30_000 : 1_500;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('grants a free lease to its first asker, with an owner, a token and an expiry', async () => {
      const before = fixture.clock ? fixture.clock.now().getTime() : Date.now();
      const lease = await store.acquire(leaseName, 'worker-a', ttlMs);
      expect(lease).toMatchObject({ name: leaseName, owner: 'worker-a' });
      expect(lease!.token.length).toBeGreaterThan(0);
      const expiresAt = Date.parse(lease!.expiresAt);
      expect(expiresAt).toBeGreaterThanOrEqual(before + ttlMs);
      if (fixture.clock) expect(expiresAt).toBe(before + ttlMs);
    });

    it('refuses a held lease to everyone else, and to its own owner asking again', async () => {
      await store.acquire(leaseName, 'worker-a', ttlMs);
      expect(await store.acquire(leaseName, 'worker-b', ttlMs)).toBeUndefined();
      expect(await store.acquire(leaseName, 'worker-a', ttlMs)).toBeUndefined();
    });

    it('gives exactly one lease to many concurrent askers', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.acquire(leaseName, `worker-${i}`, ttlMs)));
      expect(results.filter((lease) => lease !== undefined)).toHaveLength(1);
    });

    it('keeps leases of different names independent', async () => {
      expect(await store.acquire(leaseName, 'worker-a', ttlMs)).toBeDefined();
      expect(await store.acquire(`${leaseName}-other`, 'worker-b', ttlMs)).toBeDefined();
    });

    it('lets someone else take an expired lease, with a new token', async () => {
      const first = await store.acquire(leaseName, 'worker-a', ttlMs);
      await passTime(fixture, ttlMs + 50);
      const second = await store.acquire(leaseName, 'worker-b', ttlMs);
      expect(second).toMatchObject({ owner: 'worker-b' });
      expect(second!.token).not.toBe(first!.token);
    });

    it('renews a lease for its holder, keeping it held past its first expiry', async () => {
      const lease = (await store.acquire(leaseName, 'worker-a', ttlMs))!;
      await passTime(fixture, ttlMs / 2);
      const renewed = await store.renew(lease, ttlMs);
      expect(renewed).toMatchObject({ name: leaseName, owner: 'worker-a', token: lease.token });
      expect(Date.parse(renewed!.expiresAt)).toBeGreaterThan(Date.parse(lease.expiresAt));
      await passTime(fixture, ttlMs / 2 + 50); // past the first expiry, within the renewed one
      expect(await store.acquire(leaseName, 'worker-b', ttlMs)).toBeUndefined();
    });

    it('refuses to renew with a token that does not hold the lease', async () => {
      const lease = (await store.acquire(leaseName, 'worker-a', ttlMs))!;
      expect(await store.renew({ ...lease, token: 'forged-token' }, ttlMs)).toBeUndefined();
    });

    it('refuses to renew a lease that expired and went to someone else', async () => {
      const lease = (await store.acquire(leaseName, 'worker-a', ttlMs))!;
      await passTime(fixture, ttlMs + 50);
      const taken = await store.acquire(leaseName, 'worker-b', ttlMs);
      expect(taken).toBeDefined();
      expect(await store.renew(lease, ttlMs)).toBeUndefined();
      expect(await store.acquire(leaseName, 'worker-c', ttlMs)).toBeUndefined(); // worker-b still holds it
    });

    it('refuses to renew an expired lease: past its expiry it is no longer held', async () => {
      const lease = (await store.acquire(leaseName, 'worker-a', ttlMs))!;
      await passTime(fixture, ttlMs + 50);
      expect(await store.renew(lease, ttlMs)).toBeUndefined();
    });

    it('frees a lease on release by its holder; releasing twice is harmless', async () => {
      const lease = (await store.acquire(leaseName, 'worker-a', ttlMs))!;
      await store.release(lease);
      await store.release(lease);
      expect(await store.acquire(leaseName, 'worker-b', ttlMs)).toMatchObject({ owner: 'worker-b' });
    });

    it('ignores a release with the wrong token', async () => {
      const lease = (await store.acquire(leaseName, 'worker-a', ttlMs))!;
      await store.release({ ...lease, token: 'forged-token' });
      expect(await store.acquire(leaseName, 'worker-b', ttlMs)).toBeUndefined();
    });

    it('does not let a former holder release the lease of the next one', async () => {
      const old = (await store.acquire(leaseName, 'worker-a', ttlMs))!;
      await passTime(fixture, ttlMs + 50);
      const current = (await store.acquire(leaseName, 'worker-b', ttlMs))!;
      await store.release(old);
      expect(await store.acquire(leaseName, 'worker-c', ttlMs)).toBeUndefined();
      expect(await store.renew(current, ttlMs)).toBeDefined();
    });
  });
}
