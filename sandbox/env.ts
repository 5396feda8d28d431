import { SyncBridgeError } from '../shared/core/errors';
import { SandboxOptions, resolveSandboxOptions } from './options';

/**
 * Sandbox options from the environment of `npm run sandbox`. Unset variables take the defaults;
 * a set but bad one is a configuration error that names the variable.
 */
export function sandboxOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SandboxOptions {
  const options: SandboxOptions = {
    port: integerVar(env, 'SANDBOX_PORT', 7072, 0, 65535),
    recordsPerEntity: integerVar(env, 'SANDBOX_RECORDS', 2000, 0, 1_000_000),
    seed: integerVar(env, 'SANDBOX_SEED', 42, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    apiKey: env.SANDBOX_API_KEY === undefined ? undefined : nonEmpty(env, 'SANDBOX_API_KEY'),
    host: env.SANDBOX_HOST === undefined ? undefined : nonEmpty(env, 'SANDBOX_HOST'),
  };
  const requestsPerSecond = integerVar(env, 'SANDBOX_RATE_LIMIT', 100, 1, 1_000_000_000);
  options.rateLimit = { requests: requestsPerSecond, windowSeconds: 1 };
  // Validated here too, so an out-of-range value is reported before anything listens.
  resolveSandboxOptions(options);
  return options;
}

function integerVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new SyncBridgeError('configuration', `Environment variable ${name} must be an integer from ${min} to ${max}; got '${raw}'.`);
  }
  return value;
}

function nonEmpty(env: NodeJS.ProcessEnv, name: string): string {
  const raw = env[name] ?? '';
  if (raw.trim() === '') throw new SyncBridgeError('configuration', `Environment variable ${name} must not be empty.`);
  return raw;
}
