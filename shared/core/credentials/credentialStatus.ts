import type { Credentials } from '../../adapters/adapter';
import type { Platform } from '../../ports/platform';
import type { Connection, ConnectionStatus } from '../model';
import { oauthClientSecretName } from './credentialNames';
import { awaitsReauthorization } from './reauthorizationParking';

/** What an operator may see of a connection's credential: never a value, only its shape and age. */
export interface CredentialStatus {
  connectionId: string;
  connectionStatus: ConnectionStatus;
  /** Whether the connection waits for new credentials: parked, or paused after the provider refused its authorization. */
  reauthorizationRequired: boolean;
  /** Null when the connection has no credential yet (connect it through /api/connect). */
  type: Credentials['type'] | null;
  /** For OAuth 2: when the access token expires, and whether a refresh token is held. */
  expiresAt: string | null;
  hasRefreshToken: boolean;
  /** When the current version was written (a refresh writes a new one). */
  updatedAt: string | null;
  /** Live versions: the current one and those kept for rollback (credentialVersionsKept, default 5); retired ones are not counted. */
  versions: number;
  oauthClientSecretSet: boolean;
}

export async function credentialStatus(platform: Platform, connection: Connection): Promise<CredentialStatus> {
  const secret = connection.credentialRef ? await platform.secrets.get(connection.credentialRef) : undefined;
  let credentials: Credentials | undefined;
  try {
    credentials = secret ? (JSON.parse(secret.value) as Credentials) : undefined;
  } catch {
    credentials = undefined;
  }
  return {
    connectionId: connection.id,
    connectionStatus: connection.status,
    reauthorizationRequired: awaitsReauthorization(connection),
    type: credentials?.type ?? null,
    expiresAt: credentials?.type === 'oauth2' ? credentials.expiresAt ?? null : null,
    hasRefreshToken: credentials?.type === 'oauth2' && typeof credentials.refreshToken === 'string',
    updatedAt: secret?.createdAt ?? null,
    versions: connection.credentialRef ? (await platform.secrets.listVersions(connection.credentialRef)).length : 0,
    oauthClientSecretSet: (await platform.secrets.get(oauthClientSecretName(connection.id))) !== undefined,
  };
}
