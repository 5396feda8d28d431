import { SyncBridgeError } from '../shared/core/errors';
import { ResolvedOAuthOptions, SandboxOAuthOptions, resolveOAuthOptions } from './oauth/oauthOptions';

export type { SandboxOAuthOptions } from './oauth/oauthOptions';

export interface SandboxOptions {
  /** TCP port; default 7072; 0 picks any free port. */
  port?: number;
  /** Interface to listen on; default '127.0.0.1'. */
  host?: string;
  /** Seeded records per entity; default 2000, at most 1,000,000. */
  recordsPerEntity?: number;
  /** Data seed; the same seed always serves byte-identical records. Default 42. */
  seed?: number;
  /** The one key the provider API accepts in X-Api-Key; default 'sandbox-api-key'. */
  apiKey?: string;
  /** Fixed-window budget per API key; default 100 requests per 1 second. */
  rateLimit?: { requests: number; windowSeconds: number };
  /** Largest `limit` a listing accepts; default 1000. */
  maxPageSize?: number;
  /** Turns on /oauth/authorize, /oauth/token and Bearer tokens on /v1; off (X-Api-Key only) by default. */
  oauth?: SandboxOAuthOptions;
  /** How long a write's Idempotency-Key is remembered; default 86,400 (24 hours, as Stripe does). */
  idempotencyKeyTtlSeconds?: number;
}

export type ResolvedSandboxOptions = Required<Omit<SandboxOptions, 'oauth'>> & { oauth?: ResolvedOAuthOptions };

/** One million per entity keeps ids seven digits wide even after many creates. */
export const MAX_RECORDS_PER_ENTITY = 1_000_000;

/** Fills in defaults in one place and rejects bad options with a message naming the option. */
export function resolveSandboxOptions(options: SandboxOptions = {}): ResolvedSandboxOptions {
  const resolved: ResolvedSandboxOptions = {
    port: options.port ?? 7072,
    host: options.host ?? '127.0.0.1',
    recordsPerEntity: options.recordsPerEntity ?? 2000,
    seed: options.seed ?? 42,
    apiKey: options.apiKey ?? 'sandbox-api-key',
    rateLimit: options.rateLimit ?? { requests: 100, windowSeconds: 1 },
    maxPageSize: options.maxPageSize ?? 1000,
    idempotencyKeyTtlSeconds: options.idempotencyKeyTtlSeconds ?? 86_400,
  };
  requireInteger('port', resolved.port, 0, 65535);
  if (typeof resolved.host !== 'string' || resolved.host === '') fail('host', 'must be a non-empty string');
  requireInteger('recordsPerEntity', resolved.recordsPerEntity, 0, MAX_RECORDS_PER_ENTITY);
  requireInteger('seed', resolved.seed, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (typeof resolved.apiKey !== 'string' || resolved.apiKey === '') fail('apiKey', 'must be a non-empty string');
  requireInteger('rateLimit.requests', resolved.rateLimit.requests, 1, Number.MAX_SAFE_INTEGER);
  requireInteger('rateLimit.windowSeconds', resolved.rateLimit.windowSeconds, 1, 86_400);
  requireInteger('maxPageSize', resolved.maxPageSize, 1, 100_000);
  requireInteger('idempotencyKeyTtlSeconds', resolved.idempotencyKeyTtlSeconds, 1, 30 * 86_400);
  const oauth = options.oauth === undefined ? undefined : resolveOAuthOptions(options.oauth);
  return { ...resolved, rateLimit: { ...resolved.rateLimit }, ...(oauth ? { oauth } : {}) };
}

function requireInteger(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(name, `must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`);
  }
}

function fail(name: string, problem: string): never {
  throw new SyncBridgeError('configuration', `Sandbox option '${name}' ${problem}.`);
}
