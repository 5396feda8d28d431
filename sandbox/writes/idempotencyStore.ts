import { createHash } from 'node:crypto';
import { Clock, systemClock } from '../../shared/ports/clock';
import { ProviderResult } from '../providerResult';

/** The first result of a write made with an Idempotency-Key, and what the request was. */
export interface RememberedWrite {
  /** Hash of method, path and canonical body: a replay must be the same request. */
  fingerprint: string;
  method: string;
  path: string;
  result: ProviderResult;
  expiresAtMs: number;
}

/** Keeps memory bounded whatever the TTL: past this many keys the oldest are forgotten. */
const MAX_KEYS = 100_000;

/**
 * Idempotency keys of /v1 writes, as Stripe treats them: the first request with a key runs and
 * its result (status, body, headers) is kept for the TTL; a later request with the key gets that
 * result back without running again. Keys are global to the sandbox's one account.
 */
export class IdempotencyStore {
  private readonly entries = new Map<string, RememberedWrite>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  get(key: string): RememberedWrite | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAtMs <= this.clock.now().getTime()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  remember(key: string, write: Omit<RememberedWrite, 'expiresAtMs'>): void {
    const now = this.clock.now().getTime();
    // Entries go in with the same TTL, so the oldest (first in Map order) expire first.
    for (const [oldKey, entry] of this.entries) {
      if (entry.expiresAtMs > now && this.entries.size < MAX_KEYS) break;
      this.entries.delete(oldKey);
    }
    this.entries.set(key, { ...write, expiresAtMs: now + this.ttlMs });
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Identifies a request independently of JSON key order and whitespace. */
export function writeFingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${path}\n${canonicalJson(body)}`).digest('base64url');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>).sort().map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
