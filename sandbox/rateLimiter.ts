import { Clock, systemClock } from '../shared/ports/clock';

export interface RateLimitOptions {
  requests: number;
  windowSeconds: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix seconds at which the caller's window ends and its budget refills. */
  resetSecond: number;
  /** Whole seconds to wait before the next request can pass; at least 1 when not allowed. */
  retryAfterSeconds: number;
}

interface Window {
  startMs: number;
  used: number;
}

/**
 * Fixed-window limiter keyed by API key. A key's window opens with its first request and lasts
 * windowSeconds; the budget is the same for every key. Requests over the budget are refused and
 * still count, so a client that hammers through 429s does not get a fresh budget sooner.
 */
export class RateLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly options: RateLimitOptions,
    private readonly clock: Clock = systemClock,
  ) {}

  take(key: string): RateLimitDecision {
    const nowMs = this.clock.now().getTime();
    const windowMs = this.options.windowSeconds * 1000;
    let window = this.windows.get(key);
    if (!window || nowMs >= window.startMs + windowMs) {
      if (this.windows.size >= 10_000) this.forgetExpired(nowMs);
      window = { startMs: nowMs, used: 0 };
      this.windows.set(key, window);
    }
    window.used++;
    const endMs = window.startMs + windowMs;
    const allowed = window.used <= this.options.requests;
    return {
      allowed,
      limit: this.options.requests,
      remaining: Math.max(0, this.options.requests - window.used),
      resetSecond: Math.ceil(endMs / 1000),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((endMs - nowMs) / 1000)),
    };
  }

  clear(): void {
    this.windows.clear();
  }

  /** Keeps memory bounded when many different keys (most of them wrong) are tried. */
  private forgetExpired(nowMs: number): void {
    const windowMs = this.options.windowSeconds * 1000;
    for (const [key, window] of this.windows) {
      if (nowMs >= window.startMs + windowMs) this.windows.delete(key);
    }
  }
}
