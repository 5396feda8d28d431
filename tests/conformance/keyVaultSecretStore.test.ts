import { SecretClient } from '@azure/keyvault-secrets';
import { isSyncBridgeError } from '../../shared/core/errors';
import { ManualClock } from '../../shared/core/manualClock';
import { toKeyVaultName } from '../../shared/platform/azure/keyVaultSecretNames';
import { KeyVaultSecretStore } from '../../shared/platform/azure/keyVaultSecretStore';
import { startKeyVaultTestServer, type KeyVaultTestServer } from '../support/keyVaultTestServer';
import { uniqueId } from './fixtures';
import { secretStoreConformance } from './secretStore.conformance';

/**
 * The SecretStore on Key Vault: the real @azure/keyvault-secrets SDK over HTTPS to a loopback
 * vault (tests/support/keyVaultTestServer.ts), through the bearer challenge.
 */
let vault: KeyVaultTestServer;
beforeAll(async () => {
  vault = await startKeyVaultTestServer();
});
afterAll(async () => vault?.close());

function clientFor(server: KeyVaultTestServer): SecretClient {
  return new SecretClient(server.vaultUri, server.credential, {
    tlsOptions: { ca: server.ca },
    // The challenge names resource https://vault.azure.net; the SDK checks that the vault's host is
    // under that domain, which 127.0.0.1 is not. Only the test turns the check off.
    disableChallengeResourceVerification: true,
    retryOptions: { maxRetries: 3, retryDelayInMs: 10, maxRetryDelayInMs: 100 },
  });
}

secretStoreConformance('KeyVaultSecretStore', async () => ({ store: new KeyVaultSecretStore(clientFor(vault), { cacheTtlMs: 0 }), cleanup: async () => undefined }));

describe('KeyVaultSecretStore against the loopback vault', () => {
  it('answers the bearer challenge with the vault scope, then sends the token', async () => {
    const store = new KeyVaultSecretStore(clientFor(vault));
    await store.set(uniqueId('challenge'), 'v');
    expect(vault.requests.find((r) => !r.authorized)?.status).toBe(401);
    expect(vault.credential.scopesAsked).toContainEqual(['https://vault.azure.net/.default']);
  });

  it('stores content type and tags on the version, the original name and the expiry in tags', async () => {
    const store = new KeyVaultSecretStore(clientFor(vault));
    const name = `connection-${uniqueId('Shop')}-credentials`;
    await store.set(name, '{"accessToken":"a"}', { contentType: 'application/json', expiresOn: '2030-01-01T00:00:00.000Z', tags: { tenantId: 't1' } });
    const [stored] = vault.versionsOf(toKeyVaultName(name));
    expect(stored).toMatchObject({ contentType: 'application/json', tags: { tenantId: 't1', 'syncbridge-name': name, 'syncbridge-expires-on': '2030-01-01T00:00:00.000Z' } });
  });

  it('never gives a credential the vault\'s exp: its refresh token outlives the access token whose expiry it carries', async () => {
    const store = new KeyVaultSecretStore(clientFor(vault), { cacheTtlMs: 0 });
    const name = `connection-${uniqueId('oauth')}-credentials`;
    // The access token expired an hour ago; the refresh token in the same secret is still good.
    const accessTokenExpiry = new Date(Date.now() - 3_600_000).toISOString();
    const value = JSON.stringify({ type: 'oauth2', accessToken: 'a', refreshToken: 'r', expiresAt: accessTokenExpiry });
    await store.set(name, value, { contentType: 'application/json', expiresOn: accessTokenExpiry, tags: { type: 'oauth2' } });
    const [stored] = vault.versionsOf(toKeyVaultName(name));
    expect(stored.exp).toBeUndefined();
    const read = await store.get(name);
    expect(read).toMatchObject({ value, expiresOn: accessTokenExpiry, tags: { type: 'oauth2' } });
    expect(Object.keys(read!.tags)).not.toContain('syncbridge-expires-on');
  });

  it('reads the expiry of a version written with the vault\'s exp (before the tag existed)', async () => {
    const client = clientFor(vault);
    const name = uniqueId('legacy-exp');
    await client.setSecret(toKeyVaultName(name), 'v', { expiresOn: new Date('2030-01-01T00:00:00Z'), tags: { 'syncbridge-name': name } });
    expect(await new KeyVaultSecretStore(client).get(name)).toMatchObject({ value: 'v', expiresOn: '2030-01-01T00:00:00.000Z' });
  });

  it('serves reads from memory within the TTL, and a write invalidates at once', async () => {
    const clock = new ManualClock();
    const store = new KeyVaultSecretStore(clientFor(vault), { cacheTtlMs: 60_000, clock });
    const name = uniqueId('cached');
    await store.set(name, 'one');
    const gets = () => vault.requests.filter((r) => r.method === 'GET' && r.path.includes(`/secrets/${toKeyVaultName(name)}`) && r.authorized).length;
    const before = gets();
    for (let i = 0; i < 5; i += 1) expect((await store.get(name))?.value).toBe('one');
    expect(gets()).toBe(before); // the set filled the cache
    clock.advance(61_000);
    expect((await store.get(name))?.value).toBe('one');
    expect(gets()).toBe(before + 1);
    await store.set(name, 'two');
    expect((await store.get(name))?.value).toBe('two');
    // Another instance's write is not seen through the cache, except by a fresh read.
    const other0 = new KeyVaultSecretStore(clientFor(vault), { cacheTtlMs: 60_000, clock });
    await other0.set(name, 'three');
    expect((await store.get(name))?.value).toBe('two');
    expect((await store.get(name, { fresh: true }))?.value).toBe('three');
    const other = new KeyVaultSecretStore(clientFor(vault), { cacheTtlMs: 60_000, clock });
    await other.delete(name);
    await store.delete(name);
    expect(await store.get(name)).toBeUndefined();
  });

  it('backs off on 429 and succeeds once the vault lets it through', async () => {
    const store = new KeyVaultSecretStore(clientFor(vault), { cacheTtlMs: 0 });
    const name = uniqueId('throttled');
    await store.set(name, 'v');
    vault.throttleNext(2, 0);
    const throttledBefore = vault.requests.filter((r) => r.status === 429).length;
    expect((await store.get(name))?.value).toBe('v');
    expect(vault.requests.filter((r) => r.status === 429).length).toBe(throttledBefore + 2);
  });

  it('reports throttling that outlasts the retries as rate_limited, without the secret value', async () => {
    const store = new KeyVaultSecretStore(clientFor(vault), { cacheTtlMs: 0 });
    const name = uniqueId('throttled');
    vault.throttleNext(50, 0);
    const failure = await store.set(name, 'super-secret-value-123').then(() => undefined, (e: unknown) => e);
    vault.throttleNext(0);
    expect(isSyncBridgeError(failure, 'rate_limited')).toBe(true);
    expect(String((failure as Error).message)).not.toContain('super-secret-value-123');
  });

  it('re-sets a deleted name by recovering it first (soft delete with purge protection)', async () => {
    const store = new KeyVaultSecretStore(clientFor(vault), { cacheTtlMs: 0 });
    const name = uniqueId('recreated');
    await store.set(name, 'first');
    await store.delete(name);
    expect(await store.get(name)).toBeUndefined();
    const again = await store.set(name, 'second');
    expect((await store.get(name))?.value).toBe('second');
    expect(again.version).not.toBe('');
  });

  it('lists every version across the vault\'s pages (nextLink)', async () => {
    const store = new KeyVaultSecretStore(clientFor(vault), { cacheTtlMs: 0 });
    const name = uniqueId('paged');
    const written: string[] = [];
    for (let i = 0; i < 30; i += 1) written.push((await store.set(name, `v${i}`)).version);
    const pagesBefore = vault.requests.filter((r) => r.path.endsWith('/versions')).length;
    expect((await store.listVersions(name)).sort()).toEqual(written.sort());
    expect(vault.requests.filter((r) => r.path.endsWith('/versions')).length - pagesBefore).toBeGreaterThanOrEqual(2);
  });

  it('refuses reads of a disabled version with 403 SecretDisabled, as the vault does, and still lists it', async () => {
    const client = clientFor(vault);
    const name = uniqueId('disabled').toLowerCase();
    const first = await client.setSecret(name, 'one');
    await client.setSecret(name, 'two');
    await client.updateSecretProperties(name, first.properties.version!, { enabled: false });
    const refused = await client.getSecret(name, { version: first.properties.version }).then(() => undefined, (e: unknown) => e as { statusCode?: number; message?: string });
    expect(refused?.statusCode).toBe(403);
    expect(refused?.message).toContain('disabled secret');
    expect((await client.getSecret(name)).value).toBe('two');
    const listed = [];
    for await (const p of client.listPropertiesOfSecretVersions(name)) listed.push({ version: p.version, enabled: p.enabled });
    expect(listed).toContainEqual({ version: first.properties.version, enabled: false });
  });

  it('retires the version that falls out of the window without listing the versions, however many there were', async () => {
    const store = new KeyVaultSecretStore(clientFor(vault), { cacheTtlMs: 0 });
    const name = uniqueId('chained');
    const vaultName = toKeyVaultName(name);
    for (let i = 0; i < 40; i += 1) {
      await store.set(name, `generation-${i}`);
      await store.retireVersions(name, 5);
    }
    const before = vault.requests.length;
    await store.set(name, 'generation-40');
    expect(await store.retireVersions(name, 5)).toBe(1);
    const calls = vault.requests.slice(before).map((r) => `${r.method} ${r.path.endsWith('/versions') ? 'list' : 'secret'}`);
    // set: GET the newest (for its chain), PUT; retire: GET the newest, PATCH the retired version, PATCH the chain.
    expect(calls).toEqual(['GET secret', 'PUT secret', 'GET secret', 'PATCH secret', 'PATCH secret']);
    const versions = vault.versionsOf(vaultName);
    expect(versions.filter((v) => v.enabled)).toHaveLength(5);
    expect(versions.filter((v) => v.enabled).map((v) => v.value)).toEqual(['generation-36', 'generation-37', 'generation-38', 'generation-39', 'generation-40']);
    expect(versions.slice(0, -5).every((v) => !v.enabled)).toBe(true);
  });

  it('retires versions written without a chain (before retiring existed) by listing once, then by the chain', async () => {
    const client = clientFor(vault);
    const store = new KeyVaultSecretStore(client, { cacheTtlMs: 0 });
    const name = uniqueId('legacy');
    const vaultName = toKeyVaultName(name);
    // Versions as the store wrote them before: only the name tag, a second apart.
    for (let i = 0; i < 30; i += 1) {
      await client.setSecret(vaultName, `old-${i}`, { tags: { 'syncbridge-name': name } });
      vault.advanceTime(1);
    }
    const lists = () => vault.requests.filter((r) => r.path.endsWith('/versions')).length;
    const listsBefore = lists();
    expect(await store.retireVersions(name, 3)).toBe(27);
    expect(lists() - listsBefore).toBe(2); // 30 versions: two pages of 25
    expect(vault.versionsOf(vaultName).filter((v) => v.enabled).map((v) => v.value)).toEqual(['old-27', 'old-28', 'old-29']);
    expect((await store.get(name))?.value).toBe('old-29');
    await store.set(name, 'new-0');
    expect(await store.retireVersions(name, 3)).toBe(1);
    expect(lists() - listsBefore).toBe(2); // the chain was written: no more listing
    expect((await store.listVersions(name)).length).toBe(3);
    expect(vault.versionsOf(vaultName).filter((v) => v.enabled).map((v) => v.value)).toEqual(['old-28', 'old-29', 'new-0']);
  });

  it('after a deleted secret is recovered by a set, retires the recovered versions too', async () => {
    const store = new KeyVaultSecretStore(clientFor(vault), { cacheTtlMs: 0 });
    const name = uniqueId('recovered');
    for (let i = 0; i < 4; i += 1) {
      await store.set(name, `before-${i}`);
      vault.advanceTime(1);
    }
    await store.delete(name);
    vault.advanceTime(1);
    await store.set(name, 'after');
    expect(await store.retireVersions(name, 2)).toBe(3);
    expect(vault.versionsOf(toKeyVaultName(name)).filter((v) => v.enabled).map((v) => v.value)).toEqual(['before-3', 'after']);
  });

  it('keeps more versions than a chain holds by listing, and never retires one as new as the newest', async () => {
    const store = new KeyVaultSecretStore(clientFor(vault), { cacheTtlMs: 0 });
    const name = uniqueId('many');
    for (let i = 0; i < 12; i += 1) {
      await store.set(name, `spaced-${i}`);
      vault.advanceTime(1);
    }
    expect(await store.retireVersions(name, 10)).toBe(2);
    expect((await store.listVersions(name)).length).toBe(10);
    // Written within the newest's second: the vault's clock cannot tell them from the newest, so they stay.
    await store.set(name, 'same-second-1');
    await store.set(name, 'same-second-2');
    expect(await store.retireVersions(name, 10)).toBe(1);
    expect((await store.get(name))?.value).toBe('same-second-2');
    expect(vault.versionsOf(toKeyVaultName(name)).filter((v) => v.enabled).map((v) => v.value)).toContain('same-second-1');
  });

  it('maps long names to hashed vault names and reads them back by the tag', async () => {
    const store = new KeyVaultSecretStore(clientFor(vault), { cacheTtlMs: 0 });
    const name = `${uniqueId('long')}-${'Ü'.repeat(80)}`;
    await store.set(name, 'long-name-value');
    expect(toKeyVaultName(name)).toMatch(/^h--[0-9a-f]{64}$/);
    expect((await store.get(name))?.value).toBe('long-name-value');
  });
});
