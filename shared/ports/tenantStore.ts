import type { ApiKeyRecord, Tenant } from '../core/model';

/**
 * Tenants and their admin API keys. Keys are stored only as hashes.
 *
 * Semantics (tests/conformance/tenantStore.conformance.ts):
 * - `createTenant` / `addApiKey` fail with SyncBridgeError('conflict') on an existing id or hash.
 * - `findApiKeyByHash` returns the key record or undefined; it never throws for unknown keys.
 */
export interface TenantStore {
  createTenant(tenant: Tenant): Promise<Tenant>;
  getTenant(id: string): Promise<Tenant | undefined>;
  addApiKey(key: ApiKeyRecord): Promise<ApiKeyRecord>;
  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(tenantId: string): Promise<ApiKeyRecord[]>;
}
