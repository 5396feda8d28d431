import { SyncBridgeError } from '../../core/errors';
import { isPlainObject } from './encoding';

/** Options shared by every scheme that holds secrets: one `secret`, several `secrets` (rotation), or both. */
export interface SecretListOptions {
  secret?: string;
  secrets?: string[];
}

/**
 * Collects the active secrets from what the caller passed as `secret`: a string, an array of
 * strings, or an options object with `secret` and/or `secrets`. Any one of them verifies, so
 * rotating a secret in or out is a change of this list and needs no restart.
 */
export function collectSecrets(scheme: string, input: unknown, options: { allowEmpty?: boolean } = {}): string[] {
  let list: unknown[];
  if (typeof input === 'string') list = [input];
  else if (Array.isArray(input)) list = input;
  else if (isPlainObject(input)) {
    const { secret, secrets } = input;
    if (secrets !== undefined && !Array.isArray(secrets)) {
      throw configurationError(scheme, 'secrets', 'must be an array of strings');
    }
    list = [...(secret === undefined ? [] : [secret]), ...(secrets ?? [])];
  } else {
    throw configurationError(scheme, 'secret', 'must be a string, an array of strings or an options object');
  }
  for (const value of list) {
    if (typeof value !== 'string' || value.length === 0) {
      throw configurationError(scheme, 'secret', 'must hold only non-empty strings');
    }
  }
  if (list.length === 0 && !options.allowEmpty) {
    throw configurationError(scheme, 'secret', 'must hold at least one secret');
  }
  return list as string[];
}

/** The options object form of `secret`; a string or array is not enough for schemes that need more settings. */
export function requireOptionsObject(scheme: string, input: unknown): Record<string, unknown> {
  if (!isPlainObject(input)) {
    throw configurationError(scheme, 'secret', 'must be an options object for this scheme');
  }
  return input;
}

/** An options object when one was passed, else an empty one (for schemes whose settings are all optional). */
export function optionsObject(input: unknown): Record<string, unknown> {
  return isPlainObject(input) ? input : {};
}

export function optionalPositiveNumber(scheme: string, options: Record<string, unknown>, name: string, fallback: number): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw configurationError(scheme, name, 'must be a non-negative number of seconds');
  }
  return value;
}

export function optionalStringList(scheme: string, options: Record<string, unknown>, name: string): string[] | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((item) => typeof item === 'string' && item.length > 0)) {
    throw configurationError(scheme, name, 'must be a non-empty string or a non-empty array of non-empty strings');
  }
  return list as string[];
}

export function optionalString(scheme: string, options: Record<string, unknown>, name: string): string | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) {
    throw configurationError(scheme, name, 'must be a non-empty string');
  }
  return value;
}

export function configurationError(scheme: string, option: string, problem: string): SyncBridgeError {
  return new SyncBridgeError('configuration', `The ${scheme} webhook option "${option}" ${problem}.`);
}
