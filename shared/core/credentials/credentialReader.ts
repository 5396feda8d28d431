import type { Credentials } from '../../adapters/adapter';
import type { Platform } from '../../ports/platform';
import type { SecretValue } from '../../ports/secretStore';
import { SyncBridgeError } from '../errors';
import type { Connection } from '../model';
import { oauthClientSecretName, secretNameOf } from './credentialNames';
import { registerCredentialSecrets, registerSecretValues } from './secretRegistration';

export type OAuth2Credentials = Extract<Credentials, { type: 'oauth2' }>;

/** An OAuth 2 credential as read from the secret store, with when this version was written. */
export interface LoadedOAuth2 {
  credentials: OAuth2Credentials;
  /** When the secret version was created: about when the access token was issued. */
  obtainedAtMs: number;
}

/**
 * Reads connections' credentials from the secret store and checks that each is a credential
 * document. Every credential read is registered with telemetry as a secret (secretRegistration.ts).
 */
export class CredentialReader {
  constructor(private readonly platform: Platform) {}

  /** The stored credential, parsed; fails `configuration` when it is missing or not a credential document. */
  async read(connection: Connection, options: { fresh?: boolean } = {}): Promise<{ secret: SecretValue; credentials: Credentials }> {
    const secret = await this.readSecret(connection, options);
    const credentials = parseCredentials(secret, connection.id);
    this.registerSecrets(credentials);
    return { secret, credentials };
  }

  /** `fresh`: past any cache of the secret store, for the read under the refresh lease. */
  async loadOAuth2(connection: Connection, options: { fresh?: boolean } = {}): Promise<LoadedOAuth2 | undefined> {
    if (!connection.credentialRef) return undefined;
    const secret = await this.readSecret(connection, options);
    const credentials = parseCredentials(secret, connection.id);
    if (credentials.type !== 'oauth2') return undefined;
    this.registerSecrets(credentials);
    return loadedFrom(secret, credentials);
  }

  async readSecret(connection: Connection, options: { fresh?: boolean } = {}): Promise<SecretValue> {
    const secret = await this.platform.secrets.get(secretNameOf(connection), options);
    if (!secret) throw new SyncBridgeError('configuration', `The credential of connection ${connection.id} is missing from the secret store.`);
    return secret;
  }

  /** The OAuth 2 credential of a version already read; fails `configuration` for any other type. */
  oauth2From(secret: SecretValue, connectionId: string): LoadedOAuth2 {
    const credentials = parseCredentials(secret, connectionId);
    if (credentials.type !== 'oauth2') throw new SyncBridgeError('configuration', `Connection ${connectionId} has no OAuth 2 credential to refresh.`);
    this.registerSecrets(credentials);
    return loadedFrom(secret, credentials);
  }

  /** The newest version of the credential when it is not `version`, else undefined. */
  async newerVersion(connection: Connection, version: string): Promise<SecretValue | undefined> {
    const newest = await this.platform.secrets.get(secretNameOf(connection), { fresh: true });
    return newest && newest.version !== version ? newest : undefined;
  }

  /** The client secret set through the admin API (past any cache: it may have just been rotated). */
  async currentClientSecret(connectionId: string): Promise<SecretValue | undefined> {
    const secret = await this.platform.secrets.get(oauthClientSecretName(connectionId), { fresh: true });
    if (secret) registerSecretValues(this.platform.telemetry, [secret.value]);
    return secret;
  }

  registerSecrets(credentials: Credentials): void {
    registerCredentialSecrets(this.platform.telemetry, credentials);
  }
}

/** An OAuth 2 credential with the creation time of the version it was read from. */
export function loadedFrom(secret: SecretValue, credentials: OAuth2Credentials): LoadedOAuth2 {
  return { credentials, obtainedAtMs: Date.parse(secret.createdAt) };
}

export function parseCredentials(secret: SecretValue, connectionId: string): Credentials {
  let value: unknown;
  try {
    value = JSON.parse(secret.value);
  } catch {
    value = undefined; // never echo the text: it is a secret
  }
  if (value === null || typeof value !== 'object' || typeof (value as { type?: unknown }).type !== 'string') {
    throw new SyncBridgeError('configuration', `The credential of connection ${connectionId} is not a valid credential document.`);
  }
  return value as Credentials;
}
