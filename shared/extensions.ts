import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Services } from './composition';
import { SyncBridgeError } from './core/errors';

/**
 * A deployment's own code, added to the services once they are composed: custom merge rules
 * (`services.customRules.register(name, rule)`) and adapters (`services.adapters.register(...)`).
 * A CommonJS module whose `extend` export (or default export) receives the services.
 */
export interface ExtensionsModule {
  extend(services: Services): void | Promise<void>;
}

/** The setting that names the extensions module (an app setting on Azure, an environment variable locally). */
export const EXTENSIONS_SETTING = 'SYNCBRIDGE_EXTENSIONS';

/**
 * The module path as every composition loads it: absolute, or relative to the working directory
 * (the function app's root on Azure, the checkout for `npm start`). Resolved once, so that the
 * local host's applier thread loads the very file the receiving thread loaded.
 */
export function resolveExtensionsPath(modulePath: string | undefined): string | undefined {
  if (modulePath === undefined || modulePath.trim() === '') return undefined;
  return isAbsolute(modulePath) ? modulePath : resolve(process.cwd(), modulePath);
}

/**
 * Loads the extensions module and lets it extend `services`. Every composition of the services
 * calls this with the same setting (functions/services.ts on Azure, local/start.ts, and the local
 * host's applier thread, local/applierThreadMain.ts), so a rule registered there is known wherever
 * a merge runs: connection saves check merge policies on one thread, pulls and webhooks merge on
 * another. A module that is missing, fails to load, exports no `extend` function or throws from
 * it is a configuration error naming the setting: nothing starts half-extended.
 */
export async function applyExtensions(services: Services, modulePath: string | undefined): Promise<string | undefined> {
  const path = resolveExtensionsPath(modulePath);
  if (path === undefined) return undefined;
  const fail = (why: string, cause?: unknown) =>
    new SyncBridgeError('configuration', `${EXTENSIONS_SETTING} names ${path}, which ${why}.`, cause === undefined ? undefined : { cause });
  if (!existsSync(path)) throw fail('does not exist');
  let loaded: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(path) as unknown;
  } catch (error) {
    throw fail(`could not be loaded (${(error as Error).message})`, error);
  }
  const candidate = loaded as { extend?: unknown; default?: unknown } | null;
  const extend = typeof candidate?.extend === 'function'
    ? candidate.extend
    : typeof candidate?.default === 'function'
      ? candidate.default
      : typeof (candidate?.default as { extend?: unknown } | undefined)?.extend === 'function'
        ? (candidate!.default as { extend: ExtensionsModule['extend'] }).extend
        : typeof loaded === 'function'
          ? loaded
          : undefined;
  if (typeof extend !== 'function') throw fail('exports no `extend(services)` function');
  try {
    await (extend as ExtensionsModule['extend'])(services);
  } catch (error) {
    throw fail(`failed while extending the services (${(error as Error).message})`, error);
  }
  return path;
}
