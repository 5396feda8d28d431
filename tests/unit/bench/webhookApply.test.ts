import { benchWebhookApply } from '../../../bench/webhookApply';

describe('benchWebhookApply (the applier alone, per delivery id scheme)', () => {
  it('measures both id schemes in every round, in alternating order, on deliveries it has applied', async () => {
    // Tiny sizes: the figures are not the point here, that the phase runs the direct apply is.
    // (It throws when the last delivery was not applied by the drain.)
    const { rounds, prefill } = await benchWebhookApply({ prefill: 60, deliveries: 40, rounds: 2 });
    expect(prefill).toBe(60);
    expect(rounds.map((round) => round.map((m) => m.scheme))).toEqual([['derived', 'ordered'], ['ordered', 'derived']]);
    for (const m of rounds.flat()) {
      expect(m.deliveries).toBe(40);
      expect(m.cpuUsPerDelivery).toBeGreaterThan(0);
      expect(m.deliveriesPerSecond).toBeGreaterThan(0);
    }
  }, 60_000);
});
