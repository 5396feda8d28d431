import type { ApiKeyRecord, Tenant } from '../../shared/core/model';
import type { TenantStore } from '../../shared/ports/tenantStore';
import { createHash } from 'node:crypto';
import { expectSyncBridgeError, uniqueId, type StoreFactory, type StoreFixture } from './fixtures';

function makeTenant(id: string): Tenant {
  return { id, name: `Tenant ${id}`, maxActiveRuns: 3, createdAt: '2026-03-01T09:00:00.000Z' };
}

function makeKey(tenantId: string, overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id: uniqueId('key'),
    tenantId,
    name: 'ci',
    role: 'operator',
    keyHash: createHash('sha256').update(uniqueId('secret-key-material')).digest('hex'),
    createdAt: '2026-03-01T09:00:00.000Z',
    ...overrides,
  };
}

/** The TenantStore port's semantics (shared/ports/tenantStore.ts), run against every implementation. */
export function tenantStoreConformance(name: string, factory: StoreFactory<TenantStore>): void {
  describe(`TenantStore conformance: ${name}`, () => {
    let fixture: StoreFixture<TenantStore>;
    let store: TenantStore;
    let tenantId: string;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
      tenantId = uniqueId('ten');
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('creates a tenant and returns it whole', async () => {
      const tenant = makeTenant(tenantId);
      expect(await store.createTenant(tenant)).toEqual(tenant);
      expect(await store.getTenant(tenantId)).toEqual(tenant);
    });

    it('refuses an existing tenant id as a conflict and keeps the first', async () => {
      const tenant = await store.createTenant(makeTenant(tenantId));
      await expectSyncBridgeError(store.createTenant({ ...tenant, name: 'Impostor' }), 'conflict');
      expect(await store.getTenant(tenantId)).toEqual(tenant);
    });

    it('returns undefined for an unknown tenant', async () => {
      expect(await store.getTenant(uniqueId('nobody'))).toBeUndefined();
    });

    it('finds an API key by its hash', async () => {
      const key = makeKey(tenantId, { role: 'admin' });
      expect(await store.addApiKey(key)).toEqual(key);
      expect(await store.findApiKeyByHash(key.keyHash)).toEqual(key);
    });

    it('answers undefined, never an error, for an unknown hash', async () => {
      await store.addApiKey(makeKey(tenantId));
      expect(await store.findApiKeyByHash(createHash('sha256').update('not a key').digest('hex'))).toBeUndefined();
      expect(await store.findApiKeyByHash('')).toBeUndefined();
    });

    it('refuses an existing key id as a conflict', async () => {
      const key = await store.addApiKey(makeKey(tenantId));
      await expectSyncBridgeError(store.addApiKey(makeKey(tenantId, { id: key.id })), 'conflict');
    });

    it('refuses an existing key hash as a conflict, even for another tenant, and keeps the owner', async () => {
      const key = await store.addApiKey(makeKey(tenantId));
      await expectSyncBridgeError(store.addApiKey(makeKey(uniqueId('other-ten'), { keyHash: key.keyHash })), 'conflict');
      expect(await store.findApiKeyByHash(key.keyHash)).toEqual(key);
    });

    it('lists only the tenant\'s keys', async () => {
      const mine = [await store.addApiKey(makeKey(tenantId, { name: 'one' })), await store.addApiKey(makeKey(tenantId, { name: 'two' }))];
      await store.addApiKey(makeKey(uniqueId('other-ten')));
      const listed = await store.listApiKeys(tenantId);
      expect(listed.map((k) => k.id).sort()).toEqual(mine.map((k) => k.id).sort());
      expect(await store.listApiKeys(uniqueId('nobody'))).toEqual([]);
    });
  });
}
