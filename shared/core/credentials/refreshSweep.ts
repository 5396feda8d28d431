import type { Platform } from '../../ports/platform';
import { isSyncBridgeError } from '../errors';
import type { CredentialReader } from './credentialReader';
import type { LeasedRefresh } from './leasedRefresh';
import { hasExpired, renewable, satisfies, windowFor } from './tokenFreshness';
import { allConnections } from '../allConnections';

/**
 * The token refresher's sweep: refreshes every active connection's OAuth 2 credential that
 * expires within `windowMs` (per token at most half its lifetime, `windowFor`). A credential
 * nothing can renew (a code grant without a refresh token) is left alone until it has expired,
 * then parked. One connection's failure does not stop the others.
 */
export async function refreshExpiringTokens(platform: Platform, reader: CredentialReader, refresh: LeasedRefresh, windowMs: number): Promise<{ checked: number; refreshed: number; failed: number }> {
  let checked = 0;
  let refreshed = 0;
  let failed = 0;
  for await (const connection of allConnections(platform.connections)) {
    if (connection.status !== 'active' || !connection.credentialRef) continue;
    checked += 1;
    try {
      const loaded = await reader.loadOAuth2(connection);
      if (!loaded) continue;
      const need = { minValidityMs: windowFor(loaded, windowMs) };
      if (satisfies(loaded, need, platform.clock)) continue;
      if (!renewable(loaded, connection) && !hasExpired(loaded, platform.clock)) continue;
      await refresh.ensureFresh(connection.id, need);
      refreshed += 1;
    } catch (error) {
      failed += 1;
      platform.telemetry.log('warn', 'Token refresh failed.', { connectionId: connection.id, code: isSyncBridgeError(error) ? error.code : 'internal', reason: (error as Error).message });
    }
  }
  return { checked, refreshed, failed };
}
