import { ManualClock } from '../../shared/core/manualClock';
import { systemClock } from '../../shared/ports/clock';
import { clockConformance } from './clock.conformance';

clockConformance('systemClock', () => ({ clock: systemClock, tick: () => new Promise((r) => setTimeout(r, 2)) }));
clockConformance('ManualClock', () => {
  const clock = new ManualClock();
  return { clock, tick: async () => clock.advance(1000) };
});
