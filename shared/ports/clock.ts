/** Time, injectable so that tests can hold it still or move it on. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
