import { Harness } from '../support/harness';

/**
 * A queued run waits for its tenant to have room for another active run (tryStart); resuming it by
 * hand must not start it past the limit (found in review: queued → running is a transition the
 * state machine allows for tryStart, and resume used it). Real stack, SQLite.
 */
describe('run resume of a queued run', () => {
  let h: Harness;
  afterAll(async () => h?.close());

  test('a queued run resumed by hand does not start past maxActiveRuns', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 } });
    await h.services.platform.tenants.createTenant({ id: 'one', name: 'One-run tenant', maxActiveRuns: 1, createdAt: new Date().toISOString() });
    const { key } = await h.services.tenants.issueApiKey('one', 'admin', 'one admin');
    for (let i = 0; i < 2; i += 1) {
      expect((await h.api('POST', '/api/connections', {
        id: `one-${i}`, provider: 'sandbox', config: { baseUrl: h.sandboxUrl, pageSize: 5 }, credentials: { type: 'apiKey', apiKey: 'sandbox-api-key' },
      }, key)).status).toBe(201);
    }
    await h.sandbox('POST', 'faults', { slowMs: 300 });
    const a = (await h.api('POST', '/api/connections/one-0/syncs', { mode: 'full' }, key)).body.runId;
    const b = (await h.api('POST', '/api/connections/one-1/syncs', { mode: 'full' }, key)).body.runId;
    expect((await h.api('GET', `/api/syncs/${b}`, undefined, key)).body.state).toBe('queued');
    const resumed = await h.api('POST', `/api/syncs/${b}/resume`, undefined, key);
    const active = await h.services.platform.runs.countActive('one');
    await h.sandbox('POST', 'faults', { slowMs: 0 });
    await h.waitForRun(a, 60_000, key);
    expect({ status: resumed.status, state: resumed.body.state, active }).toEqual({ status: 409, state: undefined, active: 1 });
  });
});
