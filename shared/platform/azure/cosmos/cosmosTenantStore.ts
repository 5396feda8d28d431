import { SyncBridgeError } from '../../../core/errors';
import type { ApiKeyRecord, Tenant } from '../../../core/model';
import type { TenantStore } from '../../../ports/tenantStore';
import { queryAll, readItem, withoutSystemFields } from './cosmosCalls';
import type { CosmosDatabase } from './cosmosDatabase';
import { createIfAbsent, deleteItem } from './cosmosDocs';
import { safeDocId } from './safeId';

type TenantDoc = Tenant & { docType: 'tenant'; tenantId: string };
type KeyDoc = { id: string; docType: 'apiKey'; tenantId: string; key: ApiKeyRecord };

/**
 * Tenants and API keys in `tenants` (key /id: every document is its own partition, read by id).
 * An API key is stored under the id `keyhash:<sha256>`, so the admin API's per-request lookup by
 * hash is one point read (1 RU); a second small document `apikey:<id>` makes key ids unique.
 */
export class CosmosTenantStore implements TenantStore {
  private readonly container;
  private readonly charges;

  constructor(db: CosmosDatabase) {
    this.container = db.container('tenants');
    this.charges = db.charges;
  }

  async createTenant(tenant: Tenant): Promise<Tenant> {
    const doc: TenantDoc = { ...tenant, id: safeDocId('tenant', tenant.id), docType: 'tenant', tenantId: tenant.id };
    if (!(await createIfAbsent(this.container, this.charges, 'tenants.create', doc))) throw new SyncBridgeError('conflict', `Tenant ${tenant.id} already exists.`);
    return tenant;
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const docId = safeDocId('tenant', id);
    const doc = await readItem<TenantDoc>(this.container, this.charges, 'tenants.get', docId, docId);
    if (!doc) return undefined;
    const { docType: _type, tenantId: _tenant, ...tenant } = withoutSystemFields(doc);
    return { ...tenant, id };
  }

  async addApiKey(key: ApiKeyRecord): Promise<ApiKeyRecord> {
    const conflict = () => new SyncBridgeError('conflict', `API key ${key.id} (or one with the same hash) already exists.`);
    const idDoc = { id: safeDocId('apikey', key.id), docType: 'apiKeyId', tenantId: key.tenantId };
    if (!(await createIfAbsent(this.container, this.charges, 'tenants.addApiKey', idDoc))) throw conflict();
    const hashDoc: KeyDoc = { id: safeDocId('keyhash', key.keyHash), docType: 'apiKey', tenantId: key.tenantId, key };
    if (!(await createIfAbsent(this.container, this.charges, 'tenants.addApiKey', hashDoc))) {
      await deleteItem(this.container, this.charges, 'tenants.addApiKey', idDoc.id, idDoc.id);
      throw conflict();
    }
    return key;
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const id = safeDocId('keyhash', keyHash);
    return (await readItem<KeyDoc>(this.container, this.charges, 'tenants.findApiKey', id, id))?.key;
  }

  async listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    const docs = await queryAll<KeyDoc>(this.container, this.charges, 'tenants.listApiKeys', "SELECT * FROM c WHERE c.docType = 'apiKey' AND c.tenantId = @tenantId", [{ name: '@tenantId', value: tenantId }]);
    return docs.map((d) => d.key).sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
