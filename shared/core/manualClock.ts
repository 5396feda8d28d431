import type { Clock } from '../ports/clock';

/**
 * A clock that moves only when told to, so that tests can cross lease, claim and schedule
 * deadlines without sleeping. Starts at 2026-01-01T00:00:00.000Z unless given a time.
 */
export class ManualClock implements Clock {
  private current: number;

  constructor(start: Date | string = '2026-01-01T00:00:00.000Z') {
    this.current = ManualClock.toMs(start);
  }

  now(): Date {
    // A fresh Date each time: callers may mutate what they get without moving the clock.
    return new Date(this.current);
  }

  set(time: Date | string): void {
    this.current = ManualClock.toMs(time);
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError(`ManualClock.advance needs a finite number of milliseconds, got ${ms}.`);
    this.current += ms;
  }

  private static toMs(time: Date | string): number {
    const ms = typeof time === 'string' ? Date.parse(time) : time.getTime();
    if (Number.isNaN(ms)) throw new RangeError(`ManualClock needs a valid time, got ${String(time)}.`);
    return ms;
  }
}
