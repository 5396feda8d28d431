import { createLocalJWKSet, createRemoteJWKSet, errors, type JWTVerifyGetKey } from 'jose';
import { SyncBridgeError } from '../../core/errors';

export interface RemoteJwksCacheOptions {
  /** How long fetched keys are trusted before they are fetched again. Default 10 minutes. */
  maxAgeMs?: number;
  /**
   * Minimum time between fetches triggered by an unknown `kid` (providers rotate daily), and between
   * retries of a failed fetch. Default 30 s.
   */
  cooldownMs?: number;
  /** Timeout of one fetch. Default 5 s. */
  fetchTimeoutMs?: number;
}

interface FetchFailure {
  atMs: number;
  error: SyncBridgeError;
  /** The keys from the last good fetch, still used while the provider's endpoint fails. */
  heldKeys?: JWTVerifyGetKey;
}

/**
 * Key sets fetched from a jwks_uri (Google's and Microsoft's signing keys), one jose
 * `createRemoteJWKSet` per URI. jose fetches one at a time, caches for `maxAgeMs`, and refetches on
 * an unknown `kid` at most once per `cooldownMs`. Two things it leaves to us, done here: a failed
 * fetch is not retried for `cooldownMs` either, so a flood of forged tokens during a provider outage
 * does not become a flood of requests to the provider; and when a refetch fails, the keys from the
 * last good fetch keep verifying.
 */
export class RemoteJwksCache {
  private readonly keySets = new Map<string, JWTVerifyGetKey>();
  private readonly maxAgeMs: number;
  private readonly cooldownMs: number;
  private readonly fetchTimeoutMs: number;

  constructor(options: RemoteJwksCacheOptions = {}) {
    this.maxAgeMs = positiveMs('maxAgeMs', options.maxAgeMs, 10 * 60_000);
    this.cooldownMs = positiveMs('cooldownMs', options.cooldownMs, 30_000);
    this.fetchTimeoutMs = positiveMs('fetchTimeoutMs', options.fetchTimeoutMs, 5_000);
  }

  /** The key resolver for `uri`, to pass to jose's jwtVerify; failures to fetch throw SyncBridgeError('transient'). */
  keySetFor(uri: string): JWTVerifyGetKey {
    if (!isAllowedJwksUri(uri)) {
      throw new SyncBridgeError('configuration', `The jwks_uri ${JSON.stringify(uri)} must be an https URL (or http on loopback).`);
    }
    let keySet = this.keySets.get(uri);
    if (!keySet) {
      keySet = this.createKeySet(uri);
      this.keySets.set(uri, keySet);
    }
    return keySet;
  }

  private createKeySet(uri: string): JWTVerifyGetKey {
    const remote = createRemoteJWKSet(new URL(uri), {
      cacheMaxAge: this.maxAgeMs,
      cooldownDuration: this.cooldownMs,
      timeoutDuration: this.fetchTimeoutMs,
    });
    let failure: FetchFailure | undefined;
    const fromHeldKeys: JWTVerifyGetKey = (header, token) => {
      if (!failure?.heldKeys) throw failure!.error;
      return failure.heldKeys(header, token);
    };
    return async (header, token) => {
      if (failure && Date.now() - failure.atMs < this.cooldownMs) return fromHeldKeys(header, token);
      try {
        const key = await remote(header, token);
        failure = undefined;
        return key;
      } catch (error) {
        if (!isFetchFailure(error)) throw error;
        const held = remote.jwks();
        failure = {
          atMs: Date.now(),
          error: new SyncBridgeError('transient', `The signing keys at ${uri} could not be fetched: ${describe(error)}.`, { cause: error }),
          heldKeys: held ? createLocalJWKSet(held) : undefined,
        };
        return fromHeldKeys(header, token);
      }
    };
  }
}

/** The process-wide cache used by verifyWebhook; keys are per URI, so rotation needs no restart. */
export const sharedRemoteJwksCache = new RemoteJwksCache();

/** Only https, or plain http to loopback (local simulators), may serve signing keys. */
export function isAllowedJwksUri(uri: string): boolean {
  try {
    const parsed = new URL(uri);
    if (parsed.protocol === 'https:') return true;
    return parsed.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
  } catch {
    return false;
  }
}

/**
 * Whether jose failed to get the key set at all, as opposed to finding no key for the token. jose
 * reports a timeout as JWKSTimeout, a non-200 answer or unparseable JSON as a plain JOSEError, a body
 * that is not a key set as JWKSInvalid, and a refused connection as the socket's own error.
 */
function isFetchFailure(error: unknown): boolean {
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return true;
  if (error instanceof errors.JOSEError) return error.code === 'ERR_JOSE_GENERIC';
  return !(error instanceof TypeError);
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\.$/, '');
}

function positiveMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new SyncBridgeError('configuration', `The RemoteJwksCache option "${name}" must be a positive number of milliseconds; got ${String(value)}.`);
  }
  return value;
}
