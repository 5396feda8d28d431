import type { TokenCredential } from '@azure/identity';
import { SecretClient, type KeyVaultSecret, type SecretClientOptions } from '@azure/keyvault-secrets';
import { SyncBridgeError } from '../../core/errors';
import { systemClock, type Clock } from '../../ports/clock';
import type { SecretSetOptions, SecretStore, SecretValue } from '../../ports/secretStore';
import { toKeyVaultName } from './keyVaultSecretNames';

/** The tag that holds a secret's SecretStore name (Key Vault allows 15 tags; we use up to three). */
const NAME_TAG = 'syncbridge-name';
/**
 * The tag that holds `expiresOn`, which is never sent as the vault's `exp`. A credential secret
 * carries its access token's expiry there, but it also holds the refresh token, which outlives that
 * token by far: as `exp`, the vault would call the whole secret expired within the hour (Event Grid
 * SecretNearExpiry / SecretExpired, shown expired in the portal, flagged by policy and Defender),
 * and Key Vault documents operations outside the nbf/exp window as disallowed save for `get`.
 * Versions written before this tag existed still carry `exp`; reads fall back to it.
 */
const EXPIRES_ON_TAG = 'syncbridge-expires-on';
/**
 * The tag that chains versions for `retireVersions`: the ids of the live versions older than this
 * one, newest first, comma-separated. Key Vault lists versions in no guaranteed order and keeps
 * disabled ones in the listing, so finding the old versions by listing would cost a request per
 * 25 versions ever written (8,760 a year for an hourly token); the chain costs none.
 */
const OLDER_TAG = 'syncbridge-older';
/** A tag value holds at most 256 characters: seven 32-character version ids and their commas. */
const MAX_CHAINED_VERSIONS = 7;
/** The chain of a first version: no older versions (not an empty tag value, which some tools drop). */
const EMPTY_CHAIN = '-';
const MAX_NAME_LENGTH = 200;

export interface KeyVaultSecretStoreOptions {
  /** How long a read is served from memory. Default 60 s; writes and deletes invalidate at once. */
  cacheTtlMs?: number;
  clock?: Clock;
}

/**
 * The SecretStore on Azure Key Vault. Each `set` is a new secret version (content type and tags
 * passed through, the expiry kept in a tag, not as the vault's `exp`: EXPIRES_ON_TAG); names are
 * mapped by keyVaultSecretNames.ts. Reads are cached per instance for `cacheTtlMs`, so a worker
 * that reads a connection's credentials on every page costs the vault one GET per minute, not one
 * per page (docs/key-vault.md has the throttling arithmetic).
 * Throttling (429) is retried by the SDK's pipeline, honouring Retry-After, before it surfaces here
 * as `rate_limited`. Values never appear in errors.
 *
 * Retiring old versions: Key Vault cannot delete one version, so `retireVersions` disables them
 * (a disabled version answers 403 SecretDisabled to a read, which reads as absent here). Each
 * version written by `set` names the live versions before it (OLDER_TAG, from one GET of the
 * newest before the write), so retiring costs a GET, one PATCH per retired version and one PATCH
 * trimming the chain, however many versions the secret has had. Where the chain is missing (versions
 * written before it existed, a set after a recovery, a chain that outgrew its tag) or `keep` is
 * above 7, retiring lists every version once instead and writes the chain afresh.
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
    const write = (older: string[] | undefined) =>
      this.client.setSecret(vaultName, value, {
        contentType: options.contentType,
        tags: { ...options.tags, [NAME_TAG]: name, ...(options.expiresOn ? { [EXPIRES_ON_TAG]: new Date(options.expiresOn).toISOString() } : {}), ...(older ? { [OLDER_TAG]: chainTag(older) } : {}) },
      });
    let secret: KeyVaultSecret;
    try {
      secret = await write(await this.chainForNextVersion(vaultName, name));
    } catch (error) {
      if (!isDeletedButRecoverable(error)) throw toSyncBridgeError(error, name);
      await this.recover(vaultName, name);
      // The recovered versions are live again and no chain names them: leave the chain out, so the
      // next retireVersions finds them by listing.
      secret = await write(undefined).catch((again: unknown) => {
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
        // A disabled version is a retired one: it is listed by the vault but can no longer be read.
        if (properties.tags?.[NAME_TAG] === name && properties.version && properties.enabled !== false) versions.push(properties.version);
      }
    } catch (error) {
      if (statusOf(error) === 404) return [];
      throw toSyncBridgeError(error, name);
    }
    return versions;
  }

  async retireVersions(name: string, keep: number): Promise<number> {
    const vaultName = vaultNameOf(name);
    if (!Number.isInteger(keep) || keep < 1) throw new SyncBridgeError('validation', `The number of secret versions to keep must be an integer of at least 1, got ${keep}.`);
    let newest: KeyVaultSecret | undefined;
    try {
      newest = await this.readFromVault(vaultName, name);
    } catch (error) {
      throw toSyncBridgeError(error, name);
    }
    if (!newest?.properties.version) return 0;
    const older = chainOf(newest);
    if (older === undefined || keep > MAX_CHAINED_VERSIONS) return this.retireByListing(vaultName, name, newest, keep);
    const retired = older.slice(keep - 1);
    if (retired.length === 0) return 0;
    // Disable first, trim the chain after: a failure in between leaves ids in the chain, and the
    // next call disables them again (harmless) instead of forgetting them.
    for (const version of retired) await this.disable(vaultName, name, version);
    await this.writeChain(vaultName, name, newest, older.slice(0, keep - 1));
    return retired.length;
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
    let secret: KeyVaultSecret | undefined;
    try {
      secret = await this.readFromVault(vaultNameOf(name), name, version);
    } catch (error) {
      throw toSyncBridgeError(error, name);
    }
    return secret ? toSecretValue(name, secret) : undefined;
  }

  /** One version as the vault has it (the newest without `version`); undefined when absent or retired. */
  private async readFromVault(vaultName: string, name: string, version?: string): Promise<KeyVaultSecret | undefined> {
    let secret: KeyVaultSecret;
    try {
      secret = await this.client.getSecret(vaultName, version ? { version } : {});
    } catch (error) {
      if (statusOf(error) === 404 || isDisabled(error)) return undefined;
      throw error;
    }
    // A hashed vault name is checked against the name it holds: a collision reads as absent.
    if (secret.properties.tags?.[NAME_TAG] !== undefined && secret.properties.tags[NAME_TAG] !== name) return undefined;
    return secret;
  }

  /**
   * The chain a new version carries: the current newest version and the live ones it names.
   * Undefined when that is not known for sure (the newest has no chain, the chain would outgrow its
   * tag, the read failed): the write goes on without a chain, and retiring lists once instead.
   * Two writes at the same moment may both chain to the same predecessor; the one that loses stays
   * live until a retire lists again. Credential writes run under the refresh lease, so they do not race.
   */
  private async chainForNextVersion(vaultName: string, name: string): Promise<string[] | undefined> {
    const current = await this.readFromVault(vaultName, name).catch(() => null);
    if (current === null) return undefined;
    if (current === undefined) return []; // the first version (or a deleted secret: set then recovers and drops the chain)
    const older = chainOf(current);
    if (older === undefined || !current.properties.version) return undefined;
    const chain = [current.properties.version, ...older];
    return chain.length <= MAX_CHAINED_VERSIONS ? chain : undefined;
  }

  /**
   * Retires by listing every version: for secrets without a chain, and for `keep` above what a chain
   * holds. The listing is in no guaranteed order, so versions are ranked by creation time; the vault
   * records it in whole seconds, and a version created in the same second as the newest is kept.
   */
  private async retireByListing(vaultName: string, name: string, newest: KeyVaultSecret, keep: number): Promise<number> {
    const newestCreatedMs = newest.properties.createdOn?.getTime() ?? Number.POSITIVE_INFINITY;
    const older: Array<{ version: string; createdMs: number }> = [];
    try {
      for await (const properties of this.client.listPropertiesOfSecretVersions(vaultName)) {
        if (properties.tags?.[NAME_TAG] !== name || !properties.version || properties.enabled === false) continue;
        const createdMs = properties.createdOn?.getTime() ?? Number.POSITIVE_INFINITY;
        // Never retire the newest, nor anything that may be newer (a write since our read).
        if (properties.version === newest.properties.version || createdMs >= newestCreatedMs) continue;
        older.push({ version: properties.version, createdMs });
      }
    } catch (error) {
      throw toSyncBridgeError(error, name);
    }
    older.sort((a, b) => b.createdMs - a.createdMs);
    const retired = older.slice(keep - 1);
    for (const { version } of retired) await this.disable(vaultName, name, version);
    if (keep <= MAX_CHAINED_VERSIONS) await this.writeChain(vaultName, name, newest, older.slice(0, keep - 1).map((v) => v.version));
    return retired.length;
  }

  private async disable(vaultName: string, name: string, version: string): Promise<void> {
    try {
      await this.client.updateSecretProperties(vaultName, version, { enabled: false });
    } catch (error) {
      if (statusOf(error) === 404) return; // the secret was deleted meanwhile
      throw toSyncBridgeError(error, name);
    }
  }

  /** Replaces the newest version's chain (a PATCH replaces all tags, so the others are sent along). */
  private async writeChain(vaultName: string, name: string, newest: KeyVaultSecret, older: string[]): Promise<void> {
    try {
      await this.client.updateSecretProperties(vaultName, newest.properties.version!, { tags: { ...newest.properties.tags, [NAME_TAG]: name, [OLDER_TAG]: chainTag(older) } });
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw toSyncBridgeError(error, name);
    }
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

/** The versions a version's chain names; undefined when it has none (written before chains existed). */
function chainOf(secret: KeyVaultSecret): string[] | undefined {
  const chain = secret.properties.tags?.[OLDER_TAG];
  if (chain === undefined) return undefined;
  return chain === EMPTY_CHAIN || chain === '' ? [] : chain.split(',');
}

function chainTag(older: string[]): string {
  return older.length === 0 ? EMPTY_CHAIN : older.join(',');
}

function toSecretValue(name: string, secret: KeyVaultSecret): SecretValue {
  const { [NAME_TAG]: _name, [OLDER_TAG]: _older, [EXPIRES_ON_TAG]: expiresOnTag, ...tags } = secret.properties.tags ?? {};
  const expiresOn = expiresOnTag ?? secret.properties.expiresOn?.toISOString();
  return {
    name,
    value: secret.value ?? '',
    version: secret.properties.version ?? '',
    ...(secret.properties.contentType ? { contentType: secret.properties.contentType } : {}),
    ...(expiresOn ? { expiresOn } : {}),
    tags,
    createdAt: (secret.properties.createdOn ?? new Date()).toISOString(),
  };
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** A read of a disabled (here: retired) version: 403 with inner error SecretDisabled. */
function isDisabled(error: unknown): boolean {
  if (statusOf(error) !== 403) return false;
  const details = (error as { details?: { error?: { innererror?: { code?: unknown }; innerError?: { code?: unknown } } } }).details?.error;
  return (details?.innererror ?? details?.innerError)?.code === 'SecretDisabled' || /disabled secret/i.test((error as Error).message ?? '');
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
