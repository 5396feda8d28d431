import { SyncBridgeError } from './errors';

/**
 * The most entity names one connection or one run request may list. Providers have a handful of
 * entities each; the bound only keeps a request from making us walk (and store) a huge list.
 */
export const MAX_ENTITY_NAMES = 100;

/** The first name that occurs twice in `names`, or undefined. */
export function firstRepeatedName(names: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

/**
 * Refuses a list of entity names that repeats one or is longer than MAX_ENTITY_NAMES. A run keeps
 * one progress entry per name and steps through them by name, so a repeated name makes an entry
 * that is never reached and a run that never ends; it is refused here, in the core, because the
 * CLI and the scheduler reach these services without the HTTP schemas.
 */
export function assertEntityNameList(names: readonly string[], field = 'entities'): void {
  if (names.length > MAX_ENTITY_NAMES) {
    throw new SyncBridgeError('validation', `${field} lists ${names.length} entities; at most ${MAX_ENTITY_NAMES} are allowed.`);
  }
  const repeated = firstRepeatedName(names);
  if (repeated !== undefined) throw new SyncBridgeError('validation', `${field}: "${repeated}" is named more than once.`);
}
