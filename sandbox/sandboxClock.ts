import { Clock, systemClock } from '../shared/ports/clock';

/**
 * The time mutations are stamped with: real time floored to the second, or a frozen second set
 * through POST /_sandbox/clock so that a test can make many mutations land in the same second.
 */
export class SandboxClock {
  private frozenSecond: number | undefined;

  constructor(private readonly realClock: Clock = systemClock) {}

  /** Unix seconds, floored. */
  nowSecond(): number {
    return this.frozenSecond ?? Math.floor(this.realClock.now().getTime() / 1000);
  }

  get frozen(): boolean {
    return this.frozenSecond !== undefined;
  }

  /** Freezes at the second containing `ms` (unix milliseconds); undefined returns to real time. */
  freeze(ms: number | undefined): void {
    this.frozenSecond = ms === undefined ? undefined : Math.floor(ms / 1000);
  }
}
