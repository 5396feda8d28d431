import { createHash } from 'node:crypto';
import { Harness } from '../support/harness';

/**
 * On the Azure platform a sync run is visible in Application Insights: its events and metrics
 * arrive at the ingestion endpoint under the run's trace (operation id), and the distro reports the
 * provider's HTTP calls and the Cosmos DB requests as dependencies without code of ours.
 */
describe('Application Insights sees a run on the Azure platform', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 60 }, pageSize: 50, platform: 'azure' });
  });
  afterAll(async () => h?.close());

  it('events, metrics and dependencies of one run, under the run trace', async () => {
    const runId = await h.startSync('full');
    expect((await h.waitForRun(runId)).state).toBe('done');
    await h.platform.telemetry.flush();
    const envelopes = h.appInsights!.envelopes;
    const traceId = createHash('sha256').update(`syncbridge-run:${runId}`).digest('hex').slice(0, 32);

    const finished = envelopes.find((e) => e.data?.baseType === 'EventData' && e.data.baseData?.name === 'RunFinished' && (e.data.baseData.properties as Record<string, string>)?.runId === runId);
    expect(finished?.tags?.['ai.operation.id']).toBe(traceId);

    const metrics = envelopes.filter((e) => e.data?.baseType === 'MetricData').flatMap((e) => (e.data!.baseData!.metrics as Array<{ name: string; value: number }>).map((m) => m.name));
    expect(metrics).toEqual(expect.arrayContaining(['RecordsSynced', 'RecordsSyncedByOutcome', 'QueueLagMs', 'RunDurationMs']));

    const dependencies = envelopes.filter((e) => e.data?.baseType === 'RemoteDependencyData').map((e) => String(e.data!.baseData!.target ?? ''));
    const sandboxHost = new URL(h.sandboxUrl).host;
    expect(dependencies.some((target) => target.includes(sandboxHost))).toBe(true); // the provider's API
    expect(dependencies.filter((target) => !target.includes(sandboxHost) && target.includes('127.0.0.1')).length).toBeGreaterThan(0); // Cosmos DB
  });
});
