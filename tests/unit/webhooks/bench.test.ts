import { benchWebhookVerify, formatWebhookVerifyTable } from '../../../bench/webhookVerify';
import { webhookSchemes } from '../../../shared/webhooks';

describe('benchWebhookVerify', () => {
  it('measures every scheme on a request that verifies, and prints one row per scheme', async () => {
    const rows = await benchWebhookVerify({ iterations: 20 });
    expect(rows.map((row) => row.scheme)).toEqual(webhookSchemes);
    for (const row of rows) expect(row.verificationsPerSecond).toBeGreaterThan(0);
    expect(formatWebhookVerifyTable(rows).split('\n')).toHaveLength(webhookSchemes.length + 2);
  });

  it('refuses a non-positive iteration count', async () => {
    await expect(benchWebhookVerify({ iterations: 0 })).rejects.toThrow('iterations');
  });
});
