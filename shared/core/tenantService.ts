import { createHash, randomBytes } from 'node:crypto';
import type { Platform } from '../ports/platform';
import { SyncBridgeError } from './errors';
import { newId } from './ids';
import type { ApiKeyRecord, Role, Tenant } from './model';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new admin API key: 256 random bits, prefixed so leaked keys are easy to recognise. */
export function generateApiKey(): string {
  return `sbk_${randomBytes(32).toString('base64url')}`;
}

export interface ApiPrincipal {
  tenantId: string;
  role: Role;
  keyId: string;
}

/** Tenants and their API keys: creation and authentication. */
export class TenantService {
  constructor(private readonly platform: Platform) {}

  async ensureTenant(id: string, name: string, maxActiveRuns = 5): Promise<Tenant> {
    const existing = await this.platform.tenants.getTenant(id);
    if (existing) return existing;
    return this.platform.tenants.createTenant({ id, name, maxActiveRuns, createdAt: this.platform.clock.now().toISOString() });
  }

  /** Stores the hash of `key` (or of a new key) for the tenant and returns the key. */
  async issueApiKey(tenantId: string, role: Role, name: string, key = generateApiKey()): Promise<{ key: string; record: ApiKeyRecord }> {
    if (key.length < 16) throw new SyncBridgeError('validation', 'An API key must be at least 16 characters long.');
    const keyHash = hashApiKey(key);
    const existing = await this.platform.tenants.findApiKeyByHash(keyHash);
    if (existing) {
      if (existing.tenantId !== tenantId) throw new SyncBridgeError('conflict', 'That API key belongs to another tenant.');
      return { key, record: existing };
    }
    const record = await this.platform.tenants.addApiKey({
      id: newId('key'),
      tenantId,
      name,
      role,
      keyHash,
      createdAt: this.platform.clock.now().toISOString(),
    });
    return { key, record };
  }

  async authenticate(key: string | null | undefined): Promise<ApiPrincipal> {
    if (!key) throw new SyncBridgeError('unauthorized', 'Send your API key in the x-api-key header.');
    const record = await this.platform.tenants.findApiKeyByHash(hashApiKey(key));
    if (!record) throw new SyncBridgeError('unauthorized', 'The API key is not valid.');
    return { tenantId: record.tenantId, role: record.role, keyId: record.id };
  }
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function requireRole(principal: ApiPrincipal, role: Role): void {
  if (RANK[principal.role] < RANK[role]) {
    throw new SyncBridgeError('forbidden', `This needs the ${role} role; the key has ${principal.role}.`);
  }
}
