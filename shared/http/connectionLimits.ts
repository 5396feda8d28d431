import { SyncBridgeError } from '../core/errors';
import type { JsonObject } from '../core/model';
import type { Clock } from '../ports/clock';

export interface CircuitBreakerOptions {
  /** Failures in a row (5xx, timeout, no answer) that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long an open circuit fails calls fast before it lets one trial call through. Default 30,000 ms. */
  coolDownMs?: number;
}

/** How a call that went out ended, as the circuit counts it. */
export type CallOutcome =
  /** The provider answered with a status below 500 (a 4xx too: the provider is up). */
  | 'success'
  /** A 5xx, a timeout, or no answer at all (connection refused or reset, DNS). */
  | 'failure'
  /** Nothing was learned about the provider (our own authorizer failed before the request went out). */
  | 'neutral';

/**
 * Why a connection is held, which decides how its held calls fail: `rate_limit` (a 429, a
 * rate-limit 403, a spent window) as `rate_limited`; `unavailable` (a 503 with Retry-After, the
 * provider down for maintenance) as `transient`, the kind the call that met the 503 failed as, so
 * that every caller counts and waits for a held call as it does for that 503.
 */
export type HoldKind = 'rate_limit' | 'unavailable';

/** What a recorded outcome did to the circuit, for the caller to log. */
export type CircuitChange = 'opened' | 'closed' | undefined;

/**
 * What one connection's calls share in this process, whether a pull, a push, a webhook's fetch or
 * a health check makes them (DESIGN.md §2, "rate limits, … circuit breaker"):
 *
 * - **a hold**: once any call meets a 429 (or a 403 rate limit) with a retry time, or a success
 *   that spent the window (`X-RateLimit-Remaining: 0` with a reset), every call of the connection
 *   fails as `rate_limited` with that `retryAt` until it lapses, without reaching the provider;
 *   after a 503 with Retry-After (maintenance: "come back later") the same way, as `transient`
 *   (HoldKind);
 * - **a circuit breaker**: `failureThreshold` failures in a row open it; while open, calls fail
 *   fast as `transient` with `retryAt` at the end of the cool-down; then one trial call goes out
 *   (half-open) and closes the circuit on success or opens it again on failure. Calls that arrive
 *   while the trial is out fail fast without a `retryAt` (their own backoff applies).
 *
 * Both failures are the kinds the step runner, the outbound worker and the webhook applier
 * already retry with their backoff, so a held or fail-fast call is rescheduled, never parked.
 *
 * A small state machine rather than a library (opossum, cockatiel): those wrap every call in
 * their own promise and timers and read the system clock, while this one reads the Clock port
 * (tests cross a cool-down with a ManualClock), shares one object with the rate-limit hold, and
 * costs a call two number comparisons when nothing is wrong.
 */
export class ConnectionLimits {
  private holdUntilMs = 0;
  private holdCause = '';
  private holdKind: HoldKind = 'rate_limit';
  private failures = 0;
  private lastFailure = '';
  /** 0: closed. Otherwise open until then, and half-open after. */
  private openUntilMs = 0;
  /** When the half-open trial call went out; 0 when none is out. */
  private trialStartedMs = 0;
  private failureThreshold = 5;
  private coolDownMs = 30_000;

  constructor(readonly connectionId: string, options: CircuitBreakerOptions = {}) {
    this.configure(options);
  }

  /** Applies a connection's (possibly edited) settings; bad ones fail naming the option. */
  configure(options: CircuitBreakerOptions): void {
    const { failureThreshold, coolDownMs } = withCircuitDefaults(options);
    this.failureThreshold = failureThreshold;
    this.coolDownMs = coolDownMs;
  }

  /**
   * Before a call goes out: throws `rate_limited` while the connection is held for a rate limit,
   * `transient` while it is held for a 503 or its circuit is open; returns true when this call is
   * the half-open trial.
   */
  admit(operation: string, clock: Clock): boolean {
    if (this.holdUntilMs === 0 && this.openUntilMs === 0) return false; // the usual case: no clock read
    const now = clock.now().getTime();
    if (this.holdUntilMs !== 0) {
      if (now < this.holdUntilMs) {
        const retryAt = new Date(this.holdUntilMs);
        const held = `SyncBridge held ${operation} until ${retryAt.toISOString()} without sending it`;
        if (this.holdKind === 'unavailable') {
          throw new SyncBridgeError('transient', `${held}: the provider of connection ${this.connectionId} is unavailable until then (${this.holdCause}).`, { retryAt });
        }
        throw new SyncBridgeError('rate_limited', `${held}: the provider rate-limited connection ${this.connectionId} (${this.holdCause}).`, { retryAt });
      }
      this.holdUntilMs = 0;
    }
    if (this.openUntilMs === 0) return false;
    const why = `the circuit to the provider of connection ${this.connectionId} is open after ${this.failureThreshold} failures in a row (the last: ${this.lastFailure})`;
    if (now < this.openUntilMs) {
      const retryAt = new Date(this.openUntilMs);
      throw new SyncBridgeError('transient', `SyncBridge did not send ${operation}: ${why}; a trial call goes out after ${retryAt.toISOString()}.`, { retryAt });
    }
    // A trial that never reported back (it cannot, short of a bug) does not hold the circuit forever.
    if (this.trialStartedMs !== 0 && now - this.trialStartedMs < this.coolDownMs) {
      throw new SyncBridgeError('transient', `SyncBridge did not send ${operation}: ${why}, and a trial call is out.`);
    }
    this.trialStartedMs = now;
    return true;
  }

  /** Holds every call of the connection until `until` (a later hold wins, with its kind and cause). */
  holdUntil(until: Date, cause: string, kind: HoldKind = 'rate_limit'): void {
    const at = until.getTime();
    if (at > this.holdUntilMs) {
      this.holdUntilMs = at;
      this.holdCause = cause;
      this.holdKind = kind;
    }
  }

  /** After a call that was admitted: counts it, and says when the circuit opened or closed. */
  record(outcome: CallOutcome, trial: boolean, clock: Clock, what = ''): CircuitChange {
    if (outcome === 'success') {
      this.failures = 0;
      if (!trial) return undefined;
      this.openUntilMs = 0;
      this.trialStartedMs = 0;
      return 'closed';
    }
    if (outcome === 'neutral') {
      if (trial) this.trialStartedMs = 0; // the next call tries instead
      return undefined;
    }
    this.failures += 1;
    this.lastFailure = what;
    if (trial || (this.openUntilMs === 0 && this.failures >= this.failureThreshold)) {
      this.openUntilMs = clock.now().getTime() + this.coolDownMs;
      this.trialStartedMs = 0;
      return 'opened';
    }
    return undefined;
  }
}

/** The settings with their defaults filled in; a bad one fails as `validation` naming the config field. */
export function withCircuitDefaults(options: CircuitBreakerOptions): Required<CircuitBreakerOptions> {
  const failureThreshold = options.failureThreshold ?? 5;
  const coolDownMs = options.coolDownMs ?? 30_000;
  if (!Number.isInteger(failureThreshold) || failureThreshold < 1) throw new SyncBridgeError('validation', 'config.circuitFailureThreshold must be a whole number of at least 1.');
  if (!(coolDownMs > 0) || !Number.isFinite(coolDownMs)) throw new SyncBridgeError('validation', 'config.circuitCoolDownMs must be a positive number of milliseconds.');
  return { failureThreshold, coolDownMs };
}

/**
 * The circuit settings of a connection's config: `circuitFailureThreshold` and
 * `circuitCoolDownMs`, absent for the defaults. Anything but a number fails naming the field.
 */
export function circuitBreakerOptionsOf(config: JsonObject): CircuitBreakerOptions {
  const read = (field: string): number | undefined => {
    const value = config[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number') throw new SyncBridgeError('validation', `config.${field} must be a number.`);
    return value;
  };
  return { failureThreshold: read('circuitFailureThreshold'), coolDownMs: read('circuitCoolDownMs') };
}

/**
 * The ConnectionLimits of each connection, by connection id, for one process. One registry
 * serves a platform (adapterFor.ts), so the pull, push and webhook paths of a connection meet the
 * same object; other instances of the app keep their own (nothing here is stored).
 */
export class ConnectionLimitsRegistry {
  private readonly byConnection = new Map<string, ConnectionLimits>();

  /** The connection's limits, created on first use; its config's circuit settings are applied each time. */
  for(connectionId: string, config: JsonObject): ConnectionLimits {
    const options = circuitBreakerOptionsOf(config);
    let limits = this.byConnection.get(connectionId);
    if (!limits) {
      limits = new ConnectionLimits(connectionId, options);
      this.byConnection.set(connectionId, limits);
    } else {
      limits.configure(options);
    }
    return limits;
  }
}
