import type { Credentials } from '../../adapters/adapter';
import type { Platform } from '../../ports/platform';
import { SyncBridgeError, isSyncBridgeError } from '../errors';
import type { Connection } from '../model';
import { releaseHeldPushesSoon } from '../outbound/connectionHold';
import { credentialSecretName } from './credentialNames';
import type { CredentialService } from './credentialService';
import { oauthUrlProblem } from './oauthUrl';
import { withoutReauthorizationNeed } from './reauthorizationParking';

/**
 * Installs a new authorization of a connection, from the connect callback or from an operator
 * (PUT /api/connections/{id}/credentials): stores it as a new version under the refresh lease
 * (CredentialService.replaceAuthorization, so it never races a refresh of the old one), makes
 * the connection active again and sends the pushes it held. A `paused` connection stays paused:
 * new credentials heal a refused authorization (its `reauthorizationRequiredSince` goes), they do
 * not resume what an operator paused (its held pushes and webhooks wait for POST .../resume).
 * Returns the connection as it is now.
 */
export async function installAuthorization(platform: Platform, service: CredentialService, connection: Connection, credentials: Credentials): Promise<Connection> {
  const installed = await service.replaceAuthorization(connection, credentials, () => activate(platform, connection.id));
  // Pushes held while the connection waited for this go out now, not at their next check.
  if (installed.status === 'active') await releaseHeldPushesSoon(platform, installed.id);
  return installed;
}

/**
 * Credentials an operator gives an existing connection: checked as the create checks them (an
 * OAuth token URL must be https outside loopback), then installed like a new authorization.
 * This is the way back for a connection whose tokens came through the admin API (no
 * `config.oauth`, so the connect flow cannot run for it) once its grant was refused.
 */
export async function replaceCredentials(platform: Platform, service: CredentialService, connection: Connection, credentials: Credentials): Promise<Connection> {
  if (credentials.type === 'none') {
    throw new SyncBridgeError('validation', `type: a connection's credential cannot be replaced by type none; give connection ${connection.id} an apiKey, bearer or oauth2 credential.`);
  }
  if (credentials.type === 'oauth2') {
    const problem = oauthUrlProblem(credentials.tokenUrl);
    if (problem) throw new SyncBridgeError('validation', `tokenUrl ${problem}.`);
  }
  const replaced = await installAuthorization(platform, service, connection, credentials);
  platform.telemetry.event('ConnectionCredentialsReplaced', { connectionId: replaced.id, tenantId: replaced.tenantId, type: credentials.type, status: replaced.status });
  return replaced;
}

async function activate(platform: Platform, connectionId: string): Promise<Connection> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const connection = await platform.connections.get(connectionId);
    if (!connection) throw new SyncBridgeError('not_found', `Connection ${connectionId} does not exist.`);
    try {
      return await platform.connections.update({
        ...withoutReauthorizationNeed(connection),
        credentialRef: connection.credentialRef ?? credentialSecretName(connection.id),
        status: connection.status === 'paused' ? 'paused' : 'active',
        updatedAt: platform.clock.now().toISOString(),
      });
    } catch (error) {
      if (!isSyncBridgeError(error, 'conflict')) throw error;
    }
  }
  throw new SyncBridgeError('conflict', `Connection ${connectionId} kept changing while it was being activated.`);
}
