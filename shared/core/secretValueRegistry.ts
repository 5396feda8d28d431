import { SyncBridgeError } from './errors';
import { SecretMatcher, type SecretFinder, type Span } from './secretMatcher';
import { systemClock, type Clock } from '../ports/clock';

export interface SecretValueRegistryOptions {
  /**
   * How long a value stays masked after it was last registered. Default 1 hour: a holder keeps a
   * value at most one invocation after taking it up (Azure's functionTimeout is 10 minutes,
   * host.json), and the credential service registers a value again each time it takes it up.
   */
  secretValueRetentionMs?: number;
  /**
   * Most values kept. Past it the least recently registered value is forgotten even inside its
   * retention (and the telemetry warns, once). Default 20,000: some 30 MB even if every value were
   * a 1.5 kB JWT, and room for thousands of connections whose tokens all rotate within the hour.
   */
  maxSecretValues?: number;
  /** Times the retention. Default the system clock. */
  clock?: Clock;
}

export const DEFAULT_SECRET_VALUE_RETENTION_MS = 60 * 60 * 1000;
export const DEFAULT_MAX_SECRET_VALUES = 20_000;

/** What a Telemetry logs, once, the first time maxSecretValues forgets a value inside its retention. */
export const SECRET_VALUES_FULL_WARNING =
  'More secret values were registered within secretValueRetentionMs than maxSecretValues keeps: the least recently registered are no longer masked. Raise maxSecretValues.';

/**
 * The secret values a Telemetry masks (ports/telemetry.ts registerSecretValue), bounded in time
 * and count so that a long-lived process does not keep every token it ever handled, with a
 * matcher kept up to date value by value so that masking a line never copies or sorts the set.
 *
 * A value is forgotten once it has not been registered for secretValueRetentionMs. The tokens the
 * credential service handles are live for different spans (an access token until it expires, a
 * refresh token until it is rotated, maybe years), but a token can only reach a log while
 * something in this process holds it, and every holder took it up through a load or a store that
 * registered it again. So retention is counted from the latest registration, and only needs to
 * outlast one holder.
 */
export class SecretValueRegistry implements SecretFinder {
  /** Value → when it was last registered, in that order (re-registering moves it to the end). */
  private readonly registeredAtMs = new Map<string, number>();
  private readonly matcher = new SecretMatcher();
  private readonly retentionMs: number;
  private readonly maxValues: number;
  private readonly clock: Clock;

  constructor(options: SecretValueRegistryOptions = {}) {
    this.retentionMs = options.secretValueRetentionMs ?? DEFAULT_SECRET_VALUE_RETENTION_MS;
    this.maxValues = options.maxSecretValues ?? DEFAULT_MAX_SECRET_VALUES;
    this.clock = options.clock ?? systemClock;
    if (!(this.retentionMs > 0)) throw new SyncBridgeError('configuration', `secretValueRetentionMs must be a positive number of milliseconds, got ${options.secretValueRetentionMs}.`);
    if (!(Number.isInteger(this.maxValues) && this.maxValues > 0)) throw new SyncBridgeError('configuration', `maxSecretValues must be a positive whole number, got ${options.maxSecretValues}.`);
  }

  get size(): number {
    return this.registeredAtMs.size;
  }

  /**
   * Masks `value` from now on, for secretValueRetentionMs after this call. Returns true when
   * making room forgot a value still inside its retention (maxSecretValues was reached).
   */
  register(value: string): boolean {
    if (typeof value !== 'string' || value.length === 0) return false;
    const now = this.clock.now().getTime();
    this.forgetExpired(now);
    this.registeredAtMs.delete(value);
    this.registeredAtMs.set(value, now);
    this.matcher.add(value);
    let forgotLive = false;
    for (const oldest of this.registeredAtMs.keys()) {
      if (this.registeredAtMs.size <= this.maxValues) break;
      this.forget(oldest);
      forgotLive = true;
    }
    return forgotLive;
  }

  spansIn(text: string): Span[] {
    this.forgetExpired(this.clock.now().getTime());
    return this.matcher.spansIn(text);
  }

  /** The oldest registrations come first, so this stops at the first value still retained. */
  private forgetExpired(now: number): void {
    for (const [value, at] of this.registeredAtMs) {
      if (now - at < this.retentionMs) return;
      this.forget(value);
    }
  }

  private forget(value: string): void {
    this.registeredAtMs.delete(value);
    this.matcher.delete(value);
  }
}
