import type { Platform } from '../../ports/platform';
import { SyncBridgeError, isSyncBridgeError } from '../errors';
import type { Connection } from '../model';

/**
 * Records that the provider refused the connection's authorization: status
 * `reauthorization_required` (the scheduler skips it, new runs are refused), and
 * `reauthorizationRequiredSince`. A `paused` connection stays paused, the need recorded beside the
 * pause: the refresh may have started before an operator paused it, and replacing the status would
 * undo the pause (the next reconnect would make it active, its held deliveries left for a resume
 * that only a paused connection accepts). Resuming it then leads to `reauthorization_required`.
 */
export async function parkForReauthorization(platform: Platform, connectionId: string, reason: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const connection = await platform.connections.get(connectionId);
    if (!connection || awaitsReauthorization(connection)) return;
    const now = platform.clock.now().toISOString();
    const paused = connection.status === 'paused';
    try {
      await platform.connections.update({ ...connection, status: paused ? 'paused' : 'reauthorization_required', reauthorizationRequiredSince: now, updatedAt: now });
      platform.telemetry.event('ConnectionReauthorizationRequired', { connectionId, tenantId: connection.tenantId, reason, paused });
      return;
    } catch (error) {
      if (!isSyncBridgeError(error, 'conflict')) throw error;
    }
  }
  throw new SyncBridgeError('conflict', `Could not mark connection ${connectionId} as reauthorization_required: it kept changing.`);
}

/**
 * Whether the connection waits for new credentials: parked, or paused after its authorization was
 * refused. Connections parked before `reauthorizationRequiredSince` existed have the status only.
 */
export function awaitsReauthorization(connection: Pick<Connection, 'status' | 'reauthorizationRequiredSince'>): boolean {
  return connection.status === 'reauthorization_required' || Boolean(connection.reauthorizationRequiredSince);
}

/** The connection without its record of a refused authorization, for the writes that heal it. */
export function withoutReauthorizationNeed(connection: Connection): Connection {
  const { reauthorizationRequiredSince: _healed, ...rest } = connection;
  return rest;
}

/** The connection as stored now; fails `not_found` when it is gone and `auth_failed` when it awaits reauthorization. */
export async function connectionUnlessParked(platform: Platform, connectionId: string): Promise<Connection> {
  const connection = await platform.connections.get(connectionId);
  if (!connection) throw new SyncBridgeError('not_found', `Connection ${connectionId} does not exist.`);
  if (awaitsReauthorization(connection)) throw needsReauthorization(connectionId);
  return connection;
}

/** The `auth_failed` error of a parked connection: it says how to heal it. */
export function needsReauthorization(connectionId: string, reason?: string, cause?: unknown): SyncBridgeError {
  const why = reason ? `: ${reason}` : '';
  return new SyncBridgeError('auth_failed', `Connection ${connectionId} needs reauthorization${why}. Connect it again through /api/connect, or give it new credentials with PUT /api/connections/${connectionId}/credentials (after a client secret refusal, set the secret with PUT /api/connections/${connectionId}/oauth-client-secret).`, { cause });
}
