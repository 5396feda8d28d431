import type { ProviderAdapter } from '../../adapters/adapter';
import type { AdapterRegistry } from '../../adapters/registry';
import type { Platform } from '../../ports/platform';
import type { Connection } from '../model';
import { credentialServiceFor } from './registry';

/**
 * The adapter for a connection, with its current credentials. OAuth 2 credentials come with an
 * authorizer that refreshes through the one single-flight path, so pulls, pushes and webhook
 * fetches all spend refresh tokens the same safe way.
 */
export async function adapterFor(platform: Platform, adapters: AdapterRegistry, connection: Connection): Promise<ProviderAdapter> {
  const { credentials, authorizer } = await credentialServiceFor(platform).forAdapter(connection);
  return adapters.get(connection.provider).create({ connection, credentials, authorizer, clock: platform.clock, telemetry: platform.telemetry });
}
