import type { ProviderAdapter } from '../../adapters/adapter';
import type { AdapterRegistry } from '../../adapters/registry';
import { ConnectionLimitsRegistry } from '../../http/connectionLimits';
import type { Platform } from '../../ports/platform';
import type { Connection } from '../model';
import { credentialServiceFor } from './registry';

/** One registry per platform: the process's one in production, each test harness its own. */
const limitsByPlatform = new WeakMap<Platform, ConnectionLimitsRegistry>();

/**
 * The adapter for a connection, with its current credentials. OAuth 2 credentials come with an
 * authorizer that refreshes through the one single-flight path, so pulls, pushes and webhook
 * fetches all spend refresh tokens the same safe way. Likewise they share the connection's
 * rate-limit hold and circuit breaker (shared/http/connectionLimits.ts): a 429 a pull met holds
 * the pushes too, and the other way round.
 */
export async function adapterFor(platform: Platform, adapters: AdapterRegistry, connection: Connection): Promise<ProviderAdapter> {
  const { credentials, authorizer } = await credentialServiceFor(platform).forAdapter(connection);
  let registry = limitsByPlatform.get(platform);
  if (!registry) {
    registry = new ConnectionLimitsRegistry();
    limitsByPlatform.set(platform, registry);
  }
  const limits = registry.for(connection.id, connection.config);
  return adapters.get(connection.provider).create({ connection, credentials, authorizer, clock: platform.clock, telemetry: platform.telemetry, limits });
}
