import type { TokenCredential } from '@azure/identity';
import { SecretClient, type KeyVaultSecret, type SecretClientOptions } from '@azure/keyvault-secrets';
import { SyncBridgeError } from '../../core/errors';
import { systemClock, type Clock } from '../../ports/clock';
import type { SecretSetOptions, SecretStore, SecretValue } from '../../ports/secretStore';
import { toKeyVaultName } from './keyVaultSecretNames';

/** The tag that holds a secret's SecretStore name (Key Vault allows 15 tags; we use one). */
const NAME_TAG = 'syncbridge-name';
const MAX_NAME_LENGTH = 200;

export interface KeyVaultSecretStoreOptions {
  /** How long a read is served from memory. Default 60 s; writes and deletes invalidate at once. */
  cacheTtlMs?: number;
  clock?: Clock;
}

/**
 * The SecretStore on Azure Key Vault. Each `set` is a new secret version (content type, expiry and
 * tags passed through); names are mapped by keyVaultSecretNames.ts. Reads are cached per instance
 * for `cacheTtlMs`, so a worker that reads a connection's credentials on every page costs the vault
 * one GET per minute, not one per page (docs/key-vault.md has the throttling arithmetic).
 * Throttling (429) is retried by the SDK's pipeline, honouring Retry-After, before it surfaces here
 * as `rate_limited`. Values never appear in errors.
 *
 * Deletion: the vault has soft delete and purge protection (infra/modules/keyVault.bicep), so a
 * deleted secret is kept for its retention period and its name stays taken. `delete` deletes and
 * waits; a later `set` of that name recovers the secret first, then adds the new version.
 */
export class KeyVaultSecretStore implements SecretStore {
  private readonly cache = new Map<string, { value: SecretValue; at: number }>();
  private readonly cacheTtlMs: number;
  private readonly clock: Clock;

  constructor(private readonly client: SecretClient, options: KeyVaultSecretStoreOptions = {}) {
    this.cacheTtlMs = options.cacheTtlMs ?? 60_000;
    this.clock = options.clock ?? systemClock;
  }

  static fromSettings(vaultUri: string, credential: TokenCredential, options: KeyVaultSecretStoreOptions & { client?: SecretClientOptions } = {}): KeyVaultSecretStore {
    return new KeyVaultSecretStore(new SecretClient(vaultUri, credential, options.client), options);
  }

  async set(name: string, value: string, options: SecretSetOptions = {}): Promise<SecretValue> {
    const vaultName = vaultNameOf(name);
    this.cache.delete(name);
    const write = () =>
      this.client.setSecret(vaultName, value, {
        contentType: options.contentType,
        expiresOn: options.expiresOn ? new Date(options.expiresOn) : undefined,
        tags: { ...options.tags, [NAME_TAG]: name },
      });
    let secret: KeyVaultSecret;
    try {
      secret = await write();
    } catch (error) {
      if (!isDeletedButRecoverable(error)) throw toSyncBridgeError(error, name);
      await this.recover(vaultName, name);
      secret = await write().catch((again: unknown) => {
        throw toSyncBridgeError(again, name);
      });
    }
    const stored = toSecretValue(name, secret);
    this.cache.set(name, { value: stored, at: this.clock.now().getTime() });
    return stored;
  }

  async get(name: string, options: { fresh?: boolean } = {}): Promise<SecretValue | undefined> {
    const cached = options.fresh ? undefined : this.cache.get(name);
    if (cached && this.clock.now().getTime() - cached.at < this.cacheTtlMs) return cached.value;
    const found = await this.read(name);
    if (found) this.cache.set(name, { value: found, at: this.clock.now().getTime() });
    else this.cache.delete(name);
    return found;
  }

  async getVersion(name: string, version: string): Promise<SecretValue | undefined> {
    return this.read(name, version);
  }

  async listVersions(name: string): Promise<string[]> {
    const vaultName = vaultNameOf(name);
    const versions: string[] = [];
    try {
      for await (const properties of this.client.listPropertiesOfSecretVersions(vaultName)) {
        if (properties.tags?.[NAME_TAG] === name && properties.version) versions.push(properties.version);
      }
    } catch (error) {
      if (statusOf(error) === 404) return [];
      throw toSyncBridgeError(error, name);
    }
    return versions;
  }

  async delete(name: string): Promise<void> {
    const vaultName = vaultNameOf(name);
    this.cache.delete(name);
    try {
      const poller = await this.client.beginDeleteSecret(vaultName, { intervalInMs: 200 });
      await poller.pollUntilDone();
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw toSyncBridgeError(error, name);
    } finally {
      this.cache.delete(name);
    }
  }

  private async read(name: string, version?: string): Promise<SecretValue | undefined> {
    let secret: KeyVaultSecret;
    try {
      secret = await this.client.getSecret(vaultNameOf(name), version ? { version } : {});
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw toSyncBridgeError(error, name);
    }
    // A hashed vault name is checked against the name it holds: a collision reads as absent.
    if (secret.properties.tags?.[NAME_TAG] !== undefined && secret.properties.tags[NAME_TAG] !== name) return undefined;
    return toSecretValue(name, secret);
  }

  private async recover(vaultName: string, name: string): Promise<void> {
    try {
      const poller = await this.client.beginRecoverDeletedSecret(vaultName, { intervalInMs: 200 });
      await poller.pollUntilDone();
    } catch (error) {
      throw toSyncBridgeError(error, name);
    }
  }
}

function vaultNameOf(name: string): string {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) throw new SyncBridgeError('validation', `Secret names are 1-${MAX_NAME_LENGTH} characters long.`);
  return toKeyVaultName(name);
}

function toSecretValue(name: string, secret: KeyVaultSecret): SecretValue {
  const { [NAME_TAG]: _name, ...tags } = secret.properties.tags ?? {};
  return {
    name,
    value: secret.value ?? '',
    version: secret.properties.version ?? '',
    ...(secret.properties.contentType ? { contentType: secret.properties.contentType } : {}),
    ...(secret.properties.expiresOn ? { expiresOn: secret.properties.expiresOn.toISOString() } : {}),
    tags,
    createdAt: (secret.properties.createdOn ?? new Date()).toISOString(),
  };
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function isDeletedButRecoverable(error: unknown): boolean {
  return statusOf(error) === 409 && /deleted/i.test((error as Error).message ?? '');
}

/** Never includes the value: SDK errors carry only the vault's message and status. */
function toSyncBridgeError(error: unknown, name: string): SyncBridgeError {
  const status = statusOf(error);
  const what = `Key Vault, secret ${JSON.stringify(name.slice(0, 80))}`;
  if (status === 429) return new SyncBridgeError('rate_limited', `${what}: throttled (429) after the SDK's retries`, { cause: error, status, retryAt: new Date(Date.now() + 10_000) });
  if (status === 401 || status === 403) return new SyncBridgeError('configuration', `${what}: access refused (${status}); check the app identity's Key Vault Secrets role`, { cause: error, status });
  if (status === 400) return new SyncBridgeError('validation', `${what}: the vault refused the request (400)`, { cause: error, status });
  if (status === 409) return new SyncBridgeError('conflict', `${what}: conflict (409)`, { cause: error, status });
  return new SyncBridgeError('transient', `${what}: ${status ? `status ${status}` : (error as Error)?.name ?? 'error'}`, { cause: error, status });
}
