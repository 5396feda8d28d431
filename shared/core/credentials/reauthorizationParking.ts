import type { Platform } from '../../ports/platform';
import { SyncBridgeError, isSyncBridgeError } from '../errors';
import type { Connection } from '../model';

/** Marks the connection reauthorization_required (the scheduler skips it, new runs are refused). */
export async function parkForReauthorization(platform: Platform, connectionId: string, reason: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const connection = await platform.connections.get(connectionId);
    if (!connection || connection.status === 'reauthorization_required') return;
    try {
      await platform.connections.update({ ...connection, status: 'reauthorization_required', updatedAt: platform.clock.now().toISOString() });
      platform.telemetry.event('ConnectionReauthorizationRequired', { connectionId, tenantId: connection.tenantId, reason });
      return;
    } catch (error) {
      if (!isSyncBridgeError(error, 'conflict')) throw error;
    }
  }
  throw new SyncBridgeError('conflict', `Could not mark connection ${connectionId} as reauthorization_required: it kept changing.`);
}

/** The connection as stored now; fails `not_found` when it is gone and `auth_failed` when it is parked. */
export async function connectionUnlessParked(platform: Platform, connectionId: string): Promise<Connection> {
  const connection = await platform.connections.get(connectionId);
  if (!connection) throw new SyncBridgeError('not_found', `Connection ${connectionId} does not exist.`);
  if (connection.status === 'reauthorization_required') throw needsReauthorization(connectionId);
  return connection;
}

/** The `auth_failed` error of a parked connection: it says how to heal it. */
export function needsReauthorization(connectionId: string, reason?: string, cause?: unknown): SyncBridgeError {
  const why = reason ? `: ${reason}` : '';
  return new SyncBridgeError('auth_failed', `Connection ${connectionId} needs reauthorization${why}. Connect it again through /api/connect, or give it new credentials with PUT /api/connections/${connectionId}/credentials (after a client secret refusal, set the secret with PUT /api/connections/${connectionId}/oauth-client-secret).`, { cause });
}
