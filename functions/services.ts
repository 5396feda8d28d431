import { createServices, type Services } from '../shared/composition';
import { pushRetryFromSettings } from '../shared/core/outbound/backoff';
import { applyExtensions, EXTENSIONS_SETTING } from '../shared/extensions';
import { createPlatformFromEnv } from '../shared/platform/factory';

let current: Promise<Services> | undefined;

/**
 * The services the handlers use. On Azure they are built once per worker process from the app
 * settings; the local host and tests hand in their own with useServices().
 */
export function getServices(): Promise<Services> {
  if (current) return current;
  const starting = startServices();
  current = starting;
  // A failed start is not kept: the next invocation tries again, so a Key Vault or Cosmos DB blip
  // at cold start does not leave the worker process failing every invocation until it recycles.
  starting.catch(() => {
    if (current === starting) current = undefined;
  });
  return starting;
}

async function startServices(): Promise<Services> {
  // The settings first: a malformed one fails the start before the platform opens anything.
  const options = { engine: engineOptionsFromEnv(process.env), pushRetry: pushRetryFromSettings(process.env) };
  const platform = await createPlatformFromEnv(process.env);
  try {
    const services = createServices(platform, options);
    // The deployment's custom merge rules and adapters (shared/extensions.ts).
    await applyExtensions(services, process.env[EXTENSIONS_SETTING]);
    return services;
  } catch (error) {
    // Not kept, so not left open either: the next invocation builds a platform of its own.
    await platform.close().catch(() => undefined);
    throw error;
  }
}

export function useServices(services: Services): void {
  current = Promise.resolve(services);
}

export function engineOptionsFromEnv(env: NodeJS.ProcessEnv): { maxActiveRunsPerTenant?: number } {
  const raw = env.SYNCBRIDGE_MAX_ACTIVE_RUNS_PER_TENANT;
  return raw === undefined || raw === '' ? {} : { maxActiveRunsPerTenant: Number(raw) };
}
