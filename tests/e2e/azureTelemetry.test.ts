import { createHash } from 'node:crypto';
import { Harness } from '../support/harness';

/**
 * On the Azure platform a sync run is visible in Application Insights: its events and metrics
 * arrive at the ingestion endpoint under the run's trace (operation id), and the provider's HTTP
 * calls arrive as dependencies.
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
    const envelopes = h.appInsights!.envelopes;
    const metricNames = () => envelopes.filter((e) => e.data?.baseType === 'MetricData').flatMap((e) => (e.data!.baseData!.metrics as Array<{ name: string }>).map((m) => m.name));
    // The run's last telemetry is recorded just after its state reads done: flush until it is out.
    await h.waitFor('the run duration metric', async () => {
      await h.platform.telemetry.flush();
      return metricNames().includes('RunDurationMs') || undefined;
    });
    const traceId = createHash('sha256').update(`syncbridge-run:${runId}`).digest('hex').slice(0, 32);

    const finished = envelopes.find((e) => e.data?.baseType === 'EventData' && e.data.baseData?.name === 'RunFinished' && (e.data.baseData.properties as Record<string, string>)?.runId === runId);
    expect(finished?.tags?.['ai.operation.id']).toBe(traceId);

    expect(metricNames()).toEqual(expect.arrayContaining(['RecordsSynced', 'RecordsSyncedByOutcome', 'QueueLagMs', 'RunDurationMs']));

    const dependencies = envelopes.filter((e) => e.data?.baseType === 'RemoteDependencyData').map((e) => String(e.data!.baseData!.target ?? ''));
    const sandboxHost = new URL(h.sandboxUrl).host;
    expect(dependencies.some((target) => target.includes(sandboxHost))).toBe(true); // the provider's API, page by page
  });
});
