// Statsbeat (the SDK's own usage telemetry) would go to Microsoft's endpoint: off in tests.
process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED = 'true';
process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = 'true';

import { ManualClock } from '../../shared/core/manualClock';
import { runInTrace } from '../../shared/core/traceContext';
import { AppInsightsTelemetry } from '../../shared/platform/azure/appInsightsTelemetry';
import { startIngestionCollector, type IngestionCollector } from '../support/ingestionCollector';
import { telemetryConformance } from './telemetry.conformance';

/**
 * The Telemetry port on Application Insights (applicationinsights 3.x distro), its exporter
 * pointed at a local HTTPS ingestion endpoint; assertions read the envelopes that arrived.
 */
let collector: IngestionCollector;
let telemetry: AppInsightsTelemetry;
const secretValueBounds = { retentionMs: 60_000, maxValues: 1000, clock: new ManualClock() };

beforeAll(async () => {
  collector = await startIngestionCollector();
  telemetry = new AppInsightsTelemetry({
    connectionString: collector.connectionString,
    ingestionCa: collector.ca,
    level: 'debug',
    clock: secretValueBounds.clock,
    secretValueRetentionMs: secretValueBounds.retentionMs,
    maxSecretValues: secretValueBounds.maxValues,
  });
});
afterAll(async () => {
  await telemetry?.shutdown();
  await collector?.close();
});

telemetryConformance('AppInsightsTelemetry', async () => {
  const from = collector.envelopes.length;
  return {
    telemetry,
    secretValueBounds,
    readEmitted: async () => JSON.stringify(collector.envelopes.slice(from)),
    cleanup: async () => undefined,
  };
});

describe('AppInsightsTelemetry envelopes', () => {
  async function sent(): Promise<typeof collector.envelopes> {
    await telemetry.flush();
    return collector.envelopes;
  }

  it('sends events, metrics, traces, exceptions and dependencies as their Application Insights types', async () => {
    telemetry.event('RunFinished', { runId: 'run-env-1', state: 'done' }, { durationMs: 1234 });
    telemetry.metric('RecordsSynced', 250, { outcome: 'created', connectionId: 'con-env-1' });
    telemetry.log('warn', 'Step rescheduled.', { runId: 'run-env-1' });
    telemetry.exception(new Error('provider exploded'), { runId: 'run-env-1' });
    telemetry.dependency({ type: 'HTTP', target: 'crm.example', name: 'GET /v1/customers', durationMs: 42, success: false, resultCode: 503 });
    const all = await sent();
    const byType = (type: string) => all.filter((e) => e.data?.baseType === type);
    expect(byType('EventData').map((e) => e.data!.baseData)).toContainEqual(expect.objectContaining({ name: 'RunFinished', properties: expect.objectContaining({ runId: 'run-env-1', state: 'done' }) }));
    expect(byType('MetricData').flatMap((e) => e.data!.baseData!.metrics as Array<{ name: string; value: number }>)).toContainEqual(expect.objectContaining({ name: 'RecordsSynced', value: 250 }));
    expect(byType('MessageData').map((e) => e.data!.baseData)).toContainEqual(expect.objectContaining({ message: 'Step rescheduled.', severityLevel: 'Warning' }));
    expect(JSON.stringify(byType('ExceptionData'))).toContain('provider exploded');
    expect(byType('RemoteDependencyData').map((e) => e.data!.baseData)).toContainEqual(expect.objectContaining({ name: 'GET /v1/customers', success: false, target: expect.stringContaining('crm.example') }));
  });

  it('stamps the SyncBridge trace id as the operation id of what is emitted inside a trace', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    runInTrace(traceparent, () => {
      telemetry.log('info', 'inside the run trace');
      telemetry.event('InsideTrace');
      telemetry.dependency({ type: 'HTTP', target: 'crm.example', name: 'GET /v1/orders', durationMs: 5, success: true, resultCode: 200 });
    });
    const all = await sent();
    const inside = all.filter((e) => JSON.stringify(e.data?.baseData ?? {}).match(/inside the run trace|InsideTrace|GET \/v1\/orders/));
    expect(inside.length).toBe(3);
    for (const envelope of inside) expect(envelope.tags?.['ai.operation.id']).toBe('0af7651916cd43dd8448eb211c80319c');
  });
});
