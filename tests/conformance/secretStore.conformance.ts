import type { SecretStore } from '../../shared/ports/secretStore';
import { expectSyncBridgeError, uniqueId, type StoreFactory, type StoreFixture } from './fixtures';

/** The SecretStore port's semantics (shared/ports/secretStore.ts), run against every implementation. */
export function secretStoreConformance(name: string, factory: StoreFactory<SecretStore>): void {
  describe(`SecretStore conformance: ${name}`, () => {
    let fixture: StoreFixture<SecretStore>;
    let store: SecretStore;
    let secretName: string;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
      secretName = uniqueId('connection-credentials');
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('returns what was set, with its version and metadata', async () => {
      const stored = await store.set(secretName, '{"accessToken":"at-1","refreshToken":"rt-1"}', {
        contentType: 'application/json',
        expiresOn: '2026-03-01T10:00:00.000Z',
        tags: { tenantId: 'ten-1', type: 'oauth2' },
      });
      expect(stored).toMatchObject({ name: secretName, value: '{"accessToken":"at-1","refreshToken":"rt-1"}', contentType: 'application/json', tags: { tenantId: 'ten-1', type: 'oauth2' } });
      expect(typeof stored.version).toBe('string');
      expect(stored.version.length).toBeGreaterThan(0);
      expect(Date.parse(stored.expiresOn!)).toBe(Date.parse('2026-03-01T10:00:00.000Z'));
      expect(Number.isNaN(Date.parse(stored.createdAt))).toBe(false);
      const read = await store.get(secretName);
      expect(read).toMatchObject({ name: secretName, value: stored.value, version: stored.version, contentType: 'application/json', tags: stored.tags });
    });

    it('creates a new version on every set; get returns the newest, getVersion an older one', async () => {
      const v1 = await store.set(secretName, 'first');
      const v2 = await store.set(secretName, 'second');
      const v3 = await store.set(secretName, 'third');
      expect(new Set([v1.version, v2.version, v3.version]).size).toBe(3);
      expect(await store.get(secretName)).toMatchObject({ value: 'third', version: v3.version });
      expect(await store.getVersion(secretName, v1.version)).toMatchObject({ value: 'first', version: v1.version });
      expect(await store.getVersion(secretName, v2.version)).toMatchObject({ value: 'second', version: v2.version });
      expect((await store.listVersions(secretName)).sort()).toEqual([v1.version, v2.version, v3.version].sort());
    });

    it('retires all but the newest versions: they can no longer be read or listed, the newest can', async () => {
      const written: string[] = [];
      for (let i = 1; i <= 6; i += 1) written.push((await store.set(secretName, `generation-${i}`)).version);
      expect(await store.retireVersions(secretName, 3)).toBe(3);
      for (const version of written.slice(0, 3)) expect(await store.getVersion(secretName, version)).toBeUndefined();
      for (const [i, version] of written.slice(3).entries()) expect(await store.getVersion(secretName, version)).toMatchObject({ value: `generation-${i + 4}` });
      expect((await store.listVersions(secretName)).sort()).toEqual(written.slice(3).sort());
      expect(await store.get(secretName)).toMatchObject({ value: 'generation-6', version: written[5] });
      expect(await store.get(secretName, { fresh: true })).toMatchObject({ value: 'generation-6', version: written[5] });
      expect(await store.retireVersions(secretName, 3)).toBe(0); // nothing more to retire
    });

    it('keeps a rolling window when every write is followed by a retire, as credential refreshes are', async () => {
      const written: string[] = [];
      for (let i = 1; i <= 12; i += 1) {
        written.push((await store.set(secretName, `generation-${i}`)).version);
        expect(await store.retireVersions(secretName, 2)).toBe(i > 2 ? 1 : 0);
      }
      expect((await store.listVersions(secretName)).sort()).toEqual(written.slice(-2).sort());
      expect(await store.getVersion(secretName, written[0])).toBeUndefined();
      expect(await store.getVersion(secretName, written[9])).toBeUndefined();
      expect(await store.getVersion(secretName, written[10])).toMatchObject({ value: 'generation-11' });
      expect(await store.get(secretName, { fresh: true })).toMatchObject({ value: 'generation-12', version: written[11] });
      // A write after retiring still keeps the window: the next retire drops one more.
      const next = await store.set(secretName, 'generation-13');
      expect(await store.retireVersions(secretName, 2)).toBe(1);
      expect((await store.listVersions(secretName)).sort()).toEqual([written[11], next.version].sort());
    });

    it('keeping one leaves only the newest version', async () => {
      await store.set(secretName, 'old');
      const newest = await store.set(secretName, 'new');
      expect(await store.retireVersions(secretName, 1)).toBe(1);
      expect(await store.listVersions(secretName)).toEqual([newest.version]);
      expect((await store.get(secretName, { fresh: true }))?.value).toBe('new');
    });

    it('retires nothing of other secrets, nor of a secret that never existed', async () => {
      const other = uniqueId('other-secret');
      const theirs = [await store.set(other, 'a'), await store.set(other, 'b')];
      await store.set(secretName, 'mine-1');
      await store.set(secretName, 'mine-2');
      expect(await store.retireVersions(secretName, 1)).toBe(1);
      expect((await store.listVersions(other)).sort()).toEqual(theirs.map((v) => v.version).sort());
      expect(await store.retireVersions(uniqueId('never-set'), 1)).toBe(0);
    });

    it('refuses to keep fewer than one version', async () => {
      await store.set(secretName, 'only');
      await expectSyncBridgeError(store.retireVersions(secretName, 0), 'validation');
      await expectSyncBridgeError(store.retireVersions(secretName, 1.5), 'validation');
      expect((await store.get(secretName))?.value).toBe('only');
    });

    it('deletes every version; reads then find nothing', async () => {
      const v1 = await store.set(secretName, 'first');
      await store.set(secretName, 'second');
      await store.delete(secretName);
      expect(await store.get(secretName)).toBeUndefined();
      expect(await store.getVersion(secretName, v1.version)).toBeUndefined();
      expect(await store.listVersions(secretName)).toEqual([]);
    });

    it('answers undefined or nothing for a secret that never existed, and deleting it is harmless', async () => {
      expect(await store.get(secretName)).toBeUndefined();
      expect(await store.getVersion(secretName, 'no-such-version')).toBeUndefined();
      expect(await store.listVersions(secretName)).toEqual([]);
      await store.delete(secretName);
    });

    it('does not hand out a version of one secret under another secret\'s name', async () => {
      const other = uniqueId('other-secret');
      const theirs = await store.set(other, 'theirs');
      await store.set(secretName, 'mine');
      expect(await store.getVersion(secretName, theirs.version)).toBeUndefined();
    });

    it('keeps secrets with similar names apart', async () => {
      await store.set(secretName, 'plain');
      await store.set(`${secretName}-2`, 'suffixed');
      expect((await store.get(secretName))?.value).toBe('plain');
      expect((await store.get(`${secretName}-2`))?.value).toBe('suffixed');
    });

    it('keeps values exactly: unicode, quotes, newlines and large values', async () => {
      const values = ['pässwörd ✓ 🔑', 'line1\nline2\t"quoted"\\', 'x'.repeat(20_000)];
      for (const value of values) {
        const stored = await store.set(secretName, value);
        expect((await store.getVersion(secretName, stored.version))?.value).toBe(value);
      }
    });

    it('accepts names of up to 200 characters and refuses empty or longer ones', async () => {
      const longest = `${secretName}-${'n'.repeat(200 - secretName.length - 1)}`;
      expect(longest).toHaveLength(200);
      await store.set(longest, 'ok');
      expect((await store.get(longest))?.value).toBe('ok');
      await expectSyncBridgeError(store.set('', 'x'), 'validation');
      await expectSyncBridgeError(store.set(`${longest}x`, 'x'), 'validation');
    });
  });
}
