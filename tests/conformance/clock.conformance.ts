import type { Clock } from '../../shared/ports/clock';

/**
 * What code may rely on from any Clock: a valid Date each call, never earlier than the one before,
 * and a fresh object (mutating what one caller got cannot move another caller's time).
 */
export function clockConformance(name: string, factory: () => { clock: Clock; tick(): Promise<void> }): void {
  describe(`${name} (Clock conformance)`, () => {
    test('returns a valid Date', () => {
      const { clock } = factory();
      const now = clock.now();
      expect(now).toBeInstanceOf(Date);
      expect(Number.isNaN(now.getTime())).toBe(false);
    });

    test('never goes backwards between calls, also across a tick', async () => {
      const { clock, tick } = factory();
      const seen: number[] = [];
      for (let i = 0; i < 50; i += 1) {
        seen.push(clock.now().getTime());
        if (i % 10 === 0) await tick();
      }
      for (let i = 1; i < seen.length; i += 1) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
      expect(seen[seen.length - 1]).toBeGreaterThan(seen[0]);
    });

    test('hands out a fresh Date each time', () => {
      const { clock } = factory();
      const first = clock.now();
      const before = first.getTime();
      first.setTime(0);
      expect(clock.now().getTime()).toBeGreaterThanOrEqual(before);
    });
  });
}
