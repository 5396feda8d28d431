import type { Platform } from '../../ports/platform';
import { SyncBridgeError, isSyncBridgeError } from '../errors';
import type { Connection } from '../model';
import { releaseHeldPushesSoon } from '../outbound/connectionHold';
import type { CredentialReader } from './credentialReader';
import { awaitsReauthorization, withoutReauthorizationNeed } from './reauthorizationParking';
import { renewable } from './tokenFreshness';

/**
 * After the OAuth client secret was replaced: a connection awaiting reauthorization whose
 * credential can still be renewed (a refresh token, or the client-credentials grant) is active
 * again, since a refused client secret may have been why it was parked; a paused one stays paused,
 * no longer awaiting reauthorization. If the grant was the problem (invalid_grant), the next
 * refresh is refused once more and parks it again. Its held pushes go out at once. Returns the
 * connection as it is now.
 */
export async function reactivateAfterClientSecretReplaced(platform: Platform, reader: CredentialReader, connection: Connection): Promise<Connection> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const current = await platform.connections.get(connection.id);
    if (!current || !awaitsReauthorization(current)) return current ?? connection;
    const loaded = await reader.loadOAuth2(current).catch(() => undefined);
    if (!loaded || !renewable(loaded, current)) return current;
    try {
      const status = current.status === 'paused' ? 'paused' : 'active';
      const healed = await platform.connections.update({ ...withoutReauthorizationNeed(current), status, updatedAt: platform.clock.now().toISOString() });
      if (healed.status === 'active') await releaseHeldPushesSoon(platform, healed.id);
      return healed;
    } catch (error) {
      if (!isSyncBridgeError(error, 'conflict')) throw error;
    }
  }
  throw new SyncBridgeError('conflict', `Connection ${connection.id} kept changing while it was being reactivated.`);
}
