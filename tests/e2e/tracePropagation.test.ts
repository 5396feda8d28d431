import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Harness } from '../support/harness';

/**
 * One run = one trace across its queue hops: every step (a separate queue message and invocation)
 * runs in the trace derived from the run id, and telemetry emitted inside carries it.
 */
describe('trace context across the queue hops of a run', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 120 }, pageSize: 50 });
  });
  afterAll(async () => h.close());

  const lines = () => h.telemetryLines.map((line) => JSON.parse(line) as { type: string; name?: string; message?: string; traceId?: string; spanId?: string; properties?: Record<string, unknown> });

  test('every page step of a run logs under the run trace, each invocation in a span of its own', async () => {
    const runId = await h.startSync('full');
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('done');
    const expectedTraceId = createHash('sha256').update(`syncbridge-run:${runId}`).digest('hex').slice(0, 32);

    const pageMetrics = lines().filter((l) => l.type === 'metric' && l.name === 'RecordsSynced' && l.properties?.connectionId === 'shop');
    // 5 entities × 3 pages of 50 (120 records each).
    expect(pageMetrics.length).toBeGreaterThanOrEqual(15);
    expect(new Set(pageMetrics.map((l) => l.traceId))).toEqual(new Set([expectedTraceId]));
    expect(new Set(pageMetrics.map((l) => l.spanId)).size).toBe(pageMetrics.length);

    const finished = lines().filter((l) => l.type === 'event' && l.name === 'RunFinished' && l.properties?.runId === runId);
    expect(finished.map((l) => l.traceId)).toEqual([expectedTraceId]);

    const lag = lines().filter((l) => l.type === 'metric' && l.name === 'QueueLagMs' && l.traceId === expectedTraceId);
    expect(lag.length).toBeGreaterThanOrEqual(pageMetrics.length);

    // Records synced by outcome: the 600 records of the first full run were all created.
    const byOutcome = lines().filter((l) => l.type === 'metric' && l.name === 'RecordsSyncedByOutcome' && l.traceId === expectedTraceId) as Array<{ value?: number; properties?: Record<string, unknown> }>;
    expect(new Set(byOutcome.map((l) => l.properties?.outcome))).toEqual(new Set(['created']));
    expect(byOutcome.reduce((sum, l) => sum + Number(l.value), 0)).toBe(600);
  });

  test('two runs are two traces', async () => {
    const first = await h.startSync('incremental');
    await h.waitForRun(first);
    const second = await h.startSync('incremental');
    await h.waitForRun(second);
    const traceOf = (runId: string) => lines().find((l) => l.type === 'event' && l.name === 'RunFinished' && l.properties?.runId === runId)?.traceId;
    expect(traceOf(first)).toMatch(/^[0-9a-f]{32}$/);
    expect(traceOf(second)).toMatch(/^[0-9a-f]{32}$/);
    expect(traceOf(first)).not.toBe(traceOf(second));
  });

  test('a webhook delivery continues the sender\'s trace into the worker that applies it', async () => {
    const key = randomBytes(32);
    expect((await h.api('PUT', '/api/connections/shop/webhook', { scheme: 'standard-webhooks', secrets: [`whsec_${key.toString('base64')}`] })).status).toBe(200);
    const traceId = randomBytes(16).toString('hex');
    const id = `msg_${randomBytes(6).toString('hex')}`;
    const ts = String(Math.floor(Date.now() / 1000));
    const body = JSON.stringify({ type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_traced', name: 'Traced', updated_at: new Date().toISOString() } } });
    const signature = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
    const response = await fetch(`${h.hostUrl}/api/webhooks/sandbox/shop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${signature}`, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
      body,
    });
    expect(response.status).toBe(202);
    const applied = await h.waitFor('the applied delivery', async () => lines().find((l) => l.type === 'metric' && l.name === 'WebhookRecordsApplied' && l.traceId === traceId));
    expect(applied.properties).toMatchObject({ connectionId: 'shop', entity: 'customers' });
    expect(lines().some((l) => l.type === 'metric' && l.name === 'WebhookLatencyMs' && l.traceId === traceId)).toBe(true);
  });

  test('an admin API call continues the caller\'s trace into the push it enqueues', async () => {
    const created = await h.api('POST', '/api/connections', {
      id: 'traced-edits',
      provider: 'sandbox',
      config: { baseUrl: h.sandboxUrl },
      credentials: { type: 'apiKey', apiKey: 'sandbox-api-key' },
      entities: [{ name: 'customers', direction: 'both' }],
    });
    expect(created.status).toBe(201);
    expect((await h.waitForRun(await h.startSync('full', 'traced-edits'))).state).toBe('done');
    const traceId = randomBytes(16).toString('hex');
    const response = await fetch(`${h.hostUrl}/api/connections/traced-edits/records/customers/cus_0000001`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', 'x-api-key': h.apiKey, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
      body: JSON.stringify({ name: 'Edited under a trace' }),
    });
    expect(response.status).toBeLessThan(300);
    // The outbound worker that pushes the edit runs in the caller's trace.
    const pushed = await h.waitFor('the push under the caller trace', async () =>
      lines().find((l) => l.type === 'metric' && l.name === 'QueueLagMs' && l.properties?.queue === 'sync-outbound' && l.traceId === traceId),
    );
    expect(pushed.spanId).toMatch(/^[0-9a-f]{16}$/);
    await h.waitFor('the edit at the sandbox', async () => (await h.sandbox<Record<string, unknown>>('GET', 'records/customers/cus_0000001')).name === 'Edited under a trace' || undefined);
  });
});
