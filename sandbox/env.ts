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
  options.oauth = oauthFromEnv(env);
  // Validated here too, so an out-of-range value is reported before anything listens.
  resolveSandboxOptions(options);
  return options;
}

/**
 * OAuth is on when SANDBOX_OAUTH_CLIENT_ID is set; then SANDBOX_OAUTH_CLIENT_SECRET is required,
 * SANDBOX_OAUTH_TOKEN_TTL (seconds) and SANDBOX_OAUTH_REDIRECT_URIS (comma-separated) are optional.
 */
function oauthFromEnv(env: NodeJS.ProcessEnv): SandboxOptions['oauth'] {
  if (env.SANDBOX_OAUTH_CLIENT_ID === undefined) {
    const stray = ['SANDBOX_OAUTH_CLIENT_SECRET', 'SANDBOX_OAUTH_TOKEN_TTL', 'SANDBOX_OAUTH_REDIRECT_URIS'].find((name) => env[name] !== undefined);
    if (stray) throw new SyncBridgeError('configuration', `Environment variable ${stray} needs SANDBOX_OAUTH_CLIENT_ID, which turns OAuth on.`);
    return undefined;
  }
  const redirectUris = env.SANDBOX_OAUTH_REDIRECT_URIS?.split(',').map((uri) => uri.trim()).filter((uri) => uri !== '');
  return {
    clientId: nonEmpty(env, 'SANDBOX_OAUTH_CLIENT_ID'),
    clientSecret: nonEmpty(env, 'SANDBOX_OAUTH_CLIENT_SECRET'),
    accessTokenTtlSeconds: integerVar(env, 'SANDBOX_OAUTH_TOKEN_TTL', 3600, 1, 30 * 86_400),
    ...(redirectUris && redirectUris.length > 0 ? { redirectUris } : {}),
  };
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
