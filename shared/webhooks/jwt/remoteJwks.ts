import { importJwks, selectKeys, type VerificationKey } from './jwks';

export interface RemoteJwksCacheOptions {
  /** How long fetched keys are trusted before they are fetched again. Default 10 minutes. */
  maxAgeMs?: number;
  /** Minimum time between fetches triggered by an unknown `kid` (providers rotate daily). Default 30 s. */
  cooldownMs?: number;
  /** Timeout of one fetch. Default 5 s. */
  fetchTimeoutMs?: number;
}

interface CacheEntry {
  keys: VerificationKey[];
  fetchedAtMs: number;
}

export type RemoteKeysResult = { ok: true; keys: VerificationKey[] } | { ok: false; reason: string };

/**
 * Fetches and caches JSON Web Key Sets by URI (Google's and Microsoft's signing keys). One fetch at
 * a time per URI; an unknown `kid` or a failed fetch triggers another fetch at most once per
 * cooldown, so a flood of forged tokens cannot turn into a flood of requests to the provider; when a
 * refetch fails, the keys already held are still used.
 */
export class RemoteJwksCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<string | undefined>>();
  private readonly failures = new Map<string, { atMs: number; message: string }>();
  private readonly maxAgeMs: number;
  private readonly cooldownMs: number;
  private readonly fetchTimeoutMs: number;

  constructor(options: RemoteJwksCacheOptions = {}) {
    this.maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 5_000;
  }

  async keysFor(uri: string, kid: string | undefined, alg: string): Promise<RemoteKeysResult> {
    const entry = this.entries.get(uri);
    const nowMs = Date.now();
    const failure = this.failures.get(uri);
    const coolingDown = failure !== undefined && nowMs - failure.atMs < this.cooldownMs;
    const stale = !entry || nowMs - entry.fetchedAtMs > this.maxAgeMs;
    const unknownKid = entry !== undefined && selectKeys(entry.keys, kid, alg).length === 0;
    if (!coolingDown && (stale || (unknownKid && nowMs - (entry?.fetchedAtMs ?? 0) > this.cooldownMs))) {
      await this.refresh(uri);
    }
    const current = this.entries.get(uri);
    if (!current) {
      const message = this.failures.get(uri)?.message ?? 'no keys were fetched';
      return { ok: false, reason: `The signing keys at ${uri} could not be fetched: ${message}.` };
    }
    return { ok: true, keys: selectKeys(current.keys, kid, alg) };
  }

  /** Fetches `uri`, sharing a fetch already under way; resolves to an error message or undefined. */
  private refresh(uri: string): Promise<string | undefined> {
    let pending = this.inflight.get(uri);
    if (!pending) {
      pending = this.fetchOnce(uri).finally(() => this.inflight.delete(uri));
      this.inflight.set(uri, pending);
    }
    return pending;
  }

  private async fetchOnce(uri: string): Promise<string | undefined> {
    try {
      const response = await fetch(uri, { signal: AbortSignal.timeout(this.fetchTimeoutMs), headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const keys = importJwks(await response.json());
      if (keys.length === 0) throw new Error('the key set holds no usable signing keys');
      this.entries.set(uri, { keys, fetchedAtMs: Date.now() });
      this.failures.delete(uri);
      return undefined;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.failures.set(uri, { atMs: Date.now(), message });
      return message;
    }
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
