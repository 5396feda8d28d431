import { resolve } from 'node:path';
import { SyncBridgeError } from '../core/errors';
import { destinationPolicyFromEnv, setProviderDestinationPolicy } from '../http/destinationPolicy';
import type { Platform } from '../ports/platform';
import { createLocalPlatform } from './local/localPlatform';

/**
 * The one place that reads the environment to choose and build the platform
 * (SYNCBRIDGE_PLATFORM=local|azure, default local). See docs/configuration.md.
 */
export async function createPlatformFromEnv(env: NodeJS.ProcessEnv): Promise<Platform> {
  const name = (env.SYNCBRIDGE_PLATFORM ?? 'local').trim().toLowerCase();
  if (name === 'local' || name === 'azure') {
    // Which addresses provider calls may reach (destinationPolicy.ts): the local platform's
    // providers (the sandbox, a demo) run on loopback, so it allows private addresses by default;
    // on Azure a loopback or private address is the platform's own (the App Service identity
    // endpoint on localhost, the virtual network), so it refuses them unless the setting says so.
    setProviderDestinationPolicy(destinationPolicyFromEnv(env, name === 'local'));
  }
  if (name === 'local') {
    return createLocalPlatform({
      dataDir: resolve(env.SYNCBRIDGE_DATA_DIR ?? '.syncbridge'),
      secretKey: env.SYNCBRIDGE_SECRET_KEY,
      logLevel: parseLogLevel(env.SYNCBRIDGE_LOG_LEVEL),
    });
  }
  if (name === 'azure') {
    // Loaded only when chosen: the Azure SDKs and the telemetry distro cost tens of MB of memory
    // that a local host never needs.
    const { createAzurePlatformFromEnv } = await import('./azure/azurePlatform');
    return createAzurePlatformFromEnv(env);
  }
  throw new SyncBridgeError('configuration', `SYNCBRIDGE_PLATFORM must be "local" or "azure", not "${env.SYNCBRIDGE_PLATFORM}".`);
}

function parseLogLevel(value: string | undefined): 'debug' | 'info' | 'warn' | 'error' {
  if (value === undefined || value === '') return 'info';
  if (value === 'debug' || value === 'info' || value === 'warn' || value === 'error') return value;
  throw new SyncBridgeError('configuration', `SYNCBRIDGE_LOG_LEVEL must be debug, info, warn or error, not "${value}".`);
}
