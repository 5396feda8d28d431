import { createServices, type Services } from '../shared/composition';
import { createPlatformFromEnv } from '../shared/platform/factory';

let current: Promise<Services> | undefined;

/**
 * The services the handlers use. On Azure they are built once per worker process from the app
 * settings; the local host and tests hand in their own with useServices().
 */
export function getServices(): Promise<Services> {
  current ??= createPlatformFromEnv(process.env).then((platform) => createServices(platform, { engine: engineOptionsFromEnv(process.env) }));
  return current;
}

export function useServices(services: Services): void {
  current = Promise.resolve(services);
}

export function engineOptionsFromEnv(env: NodeJS.ProcessEnv): { maxActiveRunsPerTenant?: number } {
  const raw = env.SYNCBRIDGE_MAX_ACTIVE_RUNS_PER_TENANT;
  return raw === undefined || raw === '' ? {} : { maxActiveRunsPerTenant: Number(raw) };
}
