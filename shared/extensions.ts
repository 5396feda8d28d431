import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
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

/** A loaded extensions module: where it is, and how to run it on a composition. */
export interface LoadedExtensions {
  path: string;
  extend(services: Services): Promise<void>;
}

/**
 * The function app's root: the nearest folder above this file that holds host.json (the checkout
 * locally, wwwroot on Azure, whether this runs from the build or from source). The working
 * directory is not it everywhere on Azure, so relative paths are resolved against this instead.
 */
export function appRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'host.json'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

/**
 * The module path as every composition loads it: absolute, or relative to the function app's root
 * (appRoot). Resolved once, so that the local host's applier thread loads the file the receiving
 * thread loaded.
 */
export function resolveExtensionsPath(modulePath: string | undefined): string | undefined {
  const trimmed = modulePath?.trim();
  if (trimmed === undefined || trimmed === '') return undefined;
  return isAbsolute(trimmed) ? trimmed : resolve(appRoot(), trimmed);
}

/**
 * Loads the module SYNCBRIDGE_EXTENSIONS names (undefined without one), before anything is built
 * on it: a module that is missing, fails to load or exports no `extend` function is a
 * configuration error naming the setting and the file, so nothing starts half-extended.
 */
export function loadExtensions(modulePath: string | undefined): LoadedExtensions | undefined {
  const path = resolveExtensionsPath(modulePath);
  if (path === undefined) return undefined;
  const fail = (why: string, cause?: unknown) =>
    new SyncBridgeError('configuration', `${EXTENSIONS_SETTING} names ${path}, which ${why}.`, cause === undefined ? undefined : { cause });
  let file: string;
  try {
    // Node's own resolution: `./extensions` finds extensions.js, a folder its index.js.
    file = require.resolve(path);
  } catch (error) {
    throw fail('does not exist', error);
  }
  let loaded: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(file) as unknown;
  } catch (error) {
    throw fail(`could not be loaded (${(error as Error).message})`, error);
  }
  const holder = [loaded, (loaded as { default?: unknown } | null)?.default].find((candidate) => typeof (candidate as { extend?: unknown } | null)?.extend === 'function') as
    | ExtensionsModule
    | undefined;
  const bare = [loaded, (loaded as { default?: unknown } | null)?.default].find((candidate) => typeof candidate === 'function') as ExtensionsModule['extend'] | undefined;
  if (holder === undefined && bare === undefined) throw fail('exports no `extend(services)` function');
  return {
    path: file,
    async extend(services) {
      try {
        // Called on its module object, so an `extend` that uses `this` finds its siblings.
        await (holder ? holder.extend(services) : bare!(services));
      } catch (error) {
        throw fail(`failed while extending the services (${(error as Error).message})`, error);
      }
    },
  };
}

/**
 * Loads the extensions module and lets it extend `services`; returns its path (undefined without
 * a setting). Every composition of the services calls this with the same setting
 * (functions/services.ts on Azure, local/start.ts, and the local host's applier thread,
 * local/applierThreadMain.ts), so a rule registered there is known wherever a merge runs:
 * connection saves check merge policies on one thread, pulls and webhooks merge on another. Each
 * thread loads the module into its own module cache: state it keeps is per thread.
 */
export async function applyExtensions(services: Services, modulePath: string | undefined): Promise<string | undefined> {
  const extensions = loadExtensions(modulePath);
  await extensions?.extend(services);
  return extensions?.path;
}
