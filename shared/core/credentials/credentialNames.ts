import type { Connection } from '../model';

/** Name of a connection's credential in the secret store. */
export function credentialSecretName(connectionId: string): string {
  return `connection-${connectionId}-credentials`;
}

/** Name of the OAuth client secret the connect flow uses (set with PUT /api/connections/{id}/oauth-client-secret). */
export function oauthClientSecretName(connectionId: string): string {
  return `connection-${connectionId}-oauth-client-secret`;
}

/** Where a connection's credential is stored: its `credentialRef`, else the default name. */
export function secretNameOf(connection: Connection): string {
  return connection.credentialRef ?? credentialSecretName(connection.id);
}
