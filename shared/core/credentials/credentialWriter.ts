import type { Credentials } from '../../adapters/adapter';
import type { Platform } from '../../ports/platform';
import type { SecretValue } from '../../ports/secretStore';
import { isSyncBridgeError } from '../errors';
import type { Connection } from '../model';
import { secretNameOf } from './credentialNames';
import type { OAuth2Credentials } from './credentialReader';
import type { CredentialSettings } from './credentialServiceOptions';
import { registerCredentialSecrets } from './secretRegistration';
import { sleep } from './sleep';

/** Writes connections' credentials: every write a new version, tagged with the expiry; old versions retired. */
export class CredentialWriter {
  constructor(
    private readonly platform: Platform,
    private readonly settings: Pick<CredentialSettings, 'credentialVersionsKept' | 'storeAttempts' | 'storeRetryDelayMs'>,
  ) {}

  /** Stores a new version of the connection's credential (tagged with its expiry) and returns it. */
  async store(connection: Connection, credentials: Credentials): Promise<SecretValue> {
    registerCredentialSecrets(this.platform.telemetry, credentials);
    const expiresAt = credentials.type === 'oauth2' ? credentials.expiresAt : undefined;
    const stored = await this.platform.secrets.set(secretNameOf(connection), JSON.stringify(credentials), {
      contentType: 'application/json',
      expiresOn: expiresAt,
      tags: { tenantId: connection.tenantId, connectionId: connection.id, type: credentials.type, ...(expiresAt ? { expiresAt } : {}) },
    });
    await this.retireOldVersions(connection, stored.name);
    return stored;
  }

  /**
   * Stores a refreshed credential over the version it was refreshed from, and only over that one.
   * The provider has rotated the refresh token already, so this process holds the only copy of the
   * new one: a failed write is retried (with backoff; the kept leases stay renewed meanwhile)
   * instead of thrown away, which would leave the next refresh to spend the old token and the
   * provider to revoke the connection's tokens. Before each attempt the newest version is read: if
   * it is not `fromVersion`, something newer was stored while this refresh was in flight (a
   * reconnect), and writing would revert it; `newer` is returned instead. An earlier attempt that
   * reported an error but landed counts as stored.
   */
  async storeRotated(connection: Connection, next: OAuth2Credentials, fromVersion: string): Promise<{ stored?: SecretValue; newer?: SecretValue }> {
    const serialized = JSON.stringify(next);
    for (let attempt = 1; ; attempt += 1) {
      try {
        const newest = await this.platform.secrets.get(secretNameOf(connection), { fresh: true });
        if (newest && newest.version !== fromVersion) return newest.value === serialized ? { stored: newest } : { newer: newest };
        return { stored: await this.store(connection, next) };
      } catch (error) {
        if (attempt >= this.settings.storeAttempts) {
          this.platform.telemetry.log('error', 'A rotated credential could not be stored; the connection may need reauthorization.', { connectionId: connection.id, attempts: attempt, reason: (error as Error).message });
          throw error;
        }
        this.platform.telemetry.log('warn', 'Storing a rotated credential failed; retrying.', { connectionId: connection.id, attempt, reason: (error as Error).message });
        await sleep(this.settings.storeRetryDelayMs * 2 ** (attempt - 1));
      }
    }
  }

  /**
   * Every version holds a generation of the credential (refresh token, maybe client secret): keep
   * the newest few, retire the rest. Never throws: the new version is stored, and a failure here
   * must not make a caller write it again; the next store retires what this one left.
   */
  private async retireOldVersions(connection: Connection, name: string): Promise<void> {
    try {
      await this.platform.secrets.retireVersions(name, this.settings.credentialVersionsKept);
    } catch (error) {
      this.platform.telemetry.log('warn', 'Retiring old credential versions failed; the next write tries again.', { connectionId: connection.id, code: isSyncBridgeError(error) ? error.code : 'internal', reason: (error as Error).message });
    }
  }
}
