import { SyncBridgeError } from '../errors';

/** Retry schedule of failed pushes (5xx, 429, network). All optional; defaults in `resolveBackoff`. */
export interface PushRetryOptions {
  /** First delay. Default 1,000 ms. */
  initialDelayMs?: number;
  /** Growth per attempt, at least 1. Default 2. */
  multiplier?: number;
  /** Cap of one delay, at least the first delay. Default 30,000 ms. */
  maxDelayMs?: number;
  /** Attempts before the push dead-letters, a whole number. Default 8. */
  maxAttempts?: number;
}

export type ResolvedPushRetryOptions = Required<PushRetryOptions>;

const DEFAULTS: ResolvedPushRetryOptions = { initialDelayMs: 1000, multiplier: 2, maxDelayMs: 30_000, maxAttempts: 8 };

/** The app settings that set the schedule in a deployment (docs/configuration.md). */
export const PUSH_RETRY_SETTINGS: Readonly<Record<keyof PushRetryOptions, string>> = {
  initialDelayMs: 'SYNCBRIDGE_PUSH_RETRY_INITIAL_MS',
  multiplier: 'SYNCBRIDGE_PUSH_RETRY_MULTIPLIER',
  maxDelayMs: 'SYNCBRIDGE_PUSH_RETRY_MAX_DELAY_MS',
  maxAttempts: 'SYNCBRIDGE_PUSH_RETRY_MAX_ATTEMPTS',
};

const KEYS = Object.keys(DEFAULTS) as (keyof PushRetryOptions)[];

/** The options over the defaults (an option left undefined keeps its default), checked. */
export function resolveBackoff(options: PushRetryOptions = {}): ResolvedPushRetryOptions {
  return checked(withDefaults(options), (key) => `outbound retry option ${key}`);
}

/**
 * The schedule from app settings (`PUSH_RETRY_SETTINGS`; an unset or empty one keeps its default),
 * checked: a malformed value stops the start with the setting's name instead of retrying on a
 * schedule nobody asked for.
 */
export function pushRetryFromSettings(settings: Readonly<Record<string, string | undefined>>): ResolvedPushRetryOptions {
  const options: PushRetryOptions = {};
  for (const key of KEYS) {
    const raw = settings[PUSH_RETRY_SETTINGS[key]]?.trim();
    if (raw !== undefined && raw !== '') options[key] = Number(raw);
  }
  return checked(withDefaults(options), (key) => PUSH_RETRY_SETTINGS[key]);
}

function withDefaults(options: PushRetryOptions): ResolvedPushRetryOptions {
  const resolved = { ...DEFAULTS };
  for (const key of KEYS) {
    const value = options[key];
    if (value !== undefined) resolved[key] = value;
  }
  return resolved;
}

function checked(options: ResolvedPushRetryOptions, nameOf: (key: keyof PushRetryOptions) => string): ResolvedPushRetryOptions {
  const refuse = (key: keyof PushRetryOptions, rule: string): never => {
    throw new SyncBridgeError('configuration', `${nameOf(key)} must be ${rule}; got ${String(options[key])}.`);
  };
  const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
  if (!finite(options.initialDelayMs) || options.initialDelayMs <= 0) refuse('initialDelayMs', 'a positive number of milliseconds');
  if (!finite(options.multiplier) || options.multiplier < 1) refuse('multiplier', 'a number of at least 1 (delays that shrink would retry ever faster)');
  if (!finite(options.maxDelayMs) || options.maxDelayMs < options.initialDelayMs) refuse('maxDelayMs', `a number of milliseconds of at least the first delay (${options.initialDelayMs})`);
  if (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1) refuse('maxAttempts', 'a whole number of at least 1');
  return options;
}

/**
 * Delay before retry number `attempt` (1-based): exponential, capped, with "equal jitter" — half
 * fixed, half random — so that pushes failed by one outage do not come back in lockstep, yet
 * never retry almost at once.
 */
export function backoffDelayMs(attempt: number, options: ResolvedPushRetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
