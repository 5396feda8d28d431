import { ManualClock } from '../../shared/core/manualClock';

describe('ManualClock', () => {
  it('stands still until told to move, then moves by exactly what it is told', () => {
    const clock = new ManualClock('2026-03-01T09:00:00.000Z');
    expect(clock.now().toISOString()).toBe('2026-03-01T09:00:00.000Z');
    expect(clock.now().toISOString()).toBe('2026-03-01T09:00:00.000Z');
    clock.advance(1_500);
    expect(clock.now().toISOString()).toBe('2026-03-01T09:00:01.500Z');
    clock.set(new Date('2026-01-01T00:00:00.000Z'));
    expect(clock.now().toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('hands out copies, so a caller mutating its Date does not move the clock', () => {
    const clock = new ManualClock();
    clock.now().setFullYear(1999);
    expect(clock.now().getUTCFullYear()).toBe(2026);
  });

  it('refuses an invalid start, time or step', () => {
    expect(() => new ManualClock('not a time')).toThrow(RangeError);
    expect(() => new ManualClock().set('nope')).toThrow(RangeError);
    expect(() => new ManualClock().advance(Number.NaN)).toThrow(RangeError);
  });
});
