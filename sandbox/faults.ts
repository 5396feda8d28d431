import { SyncBridgeError } from '../shared/core/errors';
import { SeededRandom, foldSeed } from './random';

/** Fault injection for the provider API (/v1); the control API is never faulted. */
export interface FaultSettings {
  /** Share (0..1) of requests answered with a 500, 502 or 503 JSON error. */
  error5xxRate: number;
  /** Share (0..1) of requests answered with 429 and Retry-After: 1. */
  rate429: number;
  /** Delay before every response, in milliseconds. */
  slowMs: number;
  /** Share (0..1) of bodies cut off: full Content-Length sent, part of the body, then the socket destroyed. */
  truncateRate: number;
  /**
   * Every request is answered 400 with a body that echoes its Authorization and X-Api-Key headers,
   * as a provider whose error pages dump the request would: the test of a client's masking of
   * provider error text. Not drawn: while on, it answers every request the faults above spare.
   */
  echoCredentials: boolean;
  /**
   * The next `times` writes (POST, PUT, PATCH, DELETE) are answered with `status` before anything
   * is written, as a provider refusing a push would: the test of a client's classification of
   * 4xx answers, and of a long Retry-After. Not drawn: counted down, then null (off).
   */
  rejectWrites: WriteRejection | null;
  /** Seed of the PRNG that decides which requests fail; reapplied on every configure. */
  seed: number;
}

/** A refusal of the next writes; GET /_sandbox/faults shows how many are left. */
export interface WriteRejection {
  /** 400 … 599. */
  status: number;
  /** How many writes are still refused. Default 1. */
  times: number;
  /** Sent as Retry-After (whole seconds) when given; a 429 without it says 1. */
  retryAfterSeconds?: number;
}

/** What to do to one request. */
export interface FaultDecision {
  error5xxStatus?: 500 | 502 | 503;
  rate429: boolean;
  truncate: boolean;
  slowMs: number;
  echoCredentials: boolean;
}

const RATE_FIELDS = ['error5xxRate', 'rate429', 'truncateRate'] as const;
const MAX_SLOW_MS = 120_000;
const MAX_REJECTED_WRITES = 1000;
const MAX_RETRY_AFTER_SECONDS = 86_400;
const SERVER_ERRORS = [500, 502, 503] as const;

export class FaultInjector {
  private current: FaultSettings;
  private random: SeededRandom;

  constructor(private readonly defaultSeed: number) {
    this.current = noFaults(defaultSeed);
    this.random = new SeededRandom(foldSeed(defaultSeed));
  }

  settings(): FaultSettings {
    return { ...this.current };
  }

  /**
   * Replaces the settings: fields left out go back to "no fault", so `{}` clears everything.
   * Throws a validation error naming the bad field.
   */
  configure(input: unknown): FaultSettings {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new SyncBridgeError('validation', 'The faults body must be a JSON object.');
    }
    const body = input as Record<string, unknown>;
    const next = noFaults(this.defaultSeed);
    for (const [name, value] of Object.entries(body)) {
      if ((RATE_FIELDS as readonly string[]).includes(name)) {
        if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
          throw new SyncBridgeError('validation', `Fault setting '${name}' must be a number from 0 to 1.`);
        }
        next[name as (typeof RATE_FIELDS)[number]] = value;
      } else if (name === 'slowMs') {
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_SLOW_MS) {
          throw new SyncBridgeError('validation', `Fault setting 'slowMs' must be an integer from 0 to ${MAX_SLOW_MS}.`);
        }
        next.slowMs = value;
      } else if (name === 'seed') {
        if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
          throw new SyncBridgeError('validation', "Fault setting 'seed' must be an integer.");
        }
        next.seed = value;
      } else if (name === 'echoCredentials') {
        if (typeof value !== 'boolean') throw new SyncBridgeError('validation', "Fault setting 'echoCredentials' must be true or false.");
        next.echoCredentials = value;
      } else if (name === 'rejectWrites') {
        next.rejectWrites = value === null ? null : parseWriteRejection(value);
      } else {
        throw new SyncBridgeError('validation', `Unknown fault setting '${name}'; expected error5xxRate, rate429, slowMs, truncateRate, echoCredentials, rejectWrites or seed.`);
      }
    }
    this.current = next;
    this.random = new SeededRandom(foldSeed(next.seed));
    return this.settings();
  }

  /**
   * Decides the faults of the next request. It always draws the same four numbers, whatever the
   * settings, so the n-th request meets the same fate in every run with the same seed.
   */
  decide(): FaultDecision {
    const errorRoll = this.random.next();
    const errorKind = this.random.next();
    const limitRoll = this.random.next();
    const truncateRoll = this.random.next();
    return {
      error5xxStatus: errorRoll < this.current.error5xxRate ? SERVER_ERRORS[Math.floor(errorKind * SERVER_ERRORS.length)] : undefined,
      rate429: limitRoll < this.current.rate429,
      truncate: truncateRoll < this.current.truncateRate,
      slowMs: this.current.slowMs,
      echoCredentials: this.current.echoCredentials,
    };
  }

  /** The refusal for the write being handled, if one is left; counts it. */
  takeWriteRejection(): WriteRejection | undefined {
    const rejection = this.current.rejectWrites;
    if (!rejection) return undefined;
    this.current.rejectWrites = rejection.times > 1 ? { ...rejection, times: rejection.times - 1 } : null;
    return rejection;
  }

  clear(): void {
    this.configure({});
  }
}

function noFaults(seed: number): FaultSettings {
  return { error5xxRate: 0, rate429: 0, slowMs: 0, truncateRate: 0, echoCredentials: false, rejectWrites: null, seed };
}

function parseWriteRejection(value: unknown): WriteRejection {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SyncBridgeError('validation', "Fault setting 'rejectWrites' must be null or an object { status, times?, retryAfterSeconds? }.");
  }
  const { status, times = 1, retryAfterSeconds, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new SyncBridgeError('validation', `Unknown field 'rejectWrites.${unknown[0]}'; expected status, times or retryAfterSeconds.`);
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) {
    throw new SyncBridgeError('validation', "Fault setting 'rejectWrites.status' must be an HTTP status from 400 to 599.");
  }
  if (typeof times !== 'number' || !Number.isInteger(times) || times < 1 || times > MAX_REJECTED_WRITES) {
    throw new SyncBridgeError('validation', `Fault setting 'rejectWrites.times' must be an integer from 1 to ${MAX_REJECTED_WRITES}.`);
  }
  if (retryAfterSeconds !== undefined && (typeof retryAfterSeconds !== 'number' || !Number.isInteger(retryAfterSeconds) || retryAfterSeconds < 0 || retryAfterSeconds > MAX_RETRY_AFTER_SECONDS)) {
    throw new SyncBridgeError('validation', `Fault setting 'rejectWrites.retryAfterSeconds' must be an integer from 0 to ${MAX_RETRY_AFTER_SECONDS}.`);
  }
  return { status, times, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) };
}
