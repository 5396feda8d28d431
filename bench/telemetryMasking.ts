import { randomBytes } from 'node:crypto';
import { JsonLinesTelemetry } from '../shared/platform/local/jsonLinesTelemetry';

/**
 * What masking costs per telemetry call as registered secret values pile up: dependency() (a few
 * short strings) and exception() (a message and a stack) of JsonLinesTelemetry, written to a sink
 * that discards, at 0, 2,000, 20,000 and 60,000 registered values. maxSecretValues is raised past
 * 60,000 so that every value stays registered (docs/telemetry.md#masking).
 */

export interface TelemetryMaskingBenchRow {
  registeredValues: number;
  dependencyMs: number;
  exceptionMs: number;
}

export function benchTelemetryMasking(options: { calls?: number } = {}): TelemetryMaskingBenchRow[] {
  const calls = options.calls ?? 1_000;
  const telemetry = new JsonLinesTelemetry({ sink: { write: () => true }, maxSecretValues: 100_000 });
  const error = new Error(`The provider refused the request: ${'x'.repeat(200)}`);
  const dependency = { type: 'HTTP', target: 'api.example.com', name: 'GET /v1/customers', durationMs: 12, success: true, resultCode: 200 };
  const timed = (work: () => void) => {
    for (let i = 0; i < 20; i += 1) work(); // warm up
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i += 1) work();
    return Number(process.hrtime.bigint() - started) / 1e6 / calls;
  };
  const rows: TelemetryMaskingBenchRow[] = [];
  let registered = 0;
  for (const registeredValues of [0, 2_000, 20_000, 60_000]) {
    for (; registered < registeredValues; registered += 1) telemetry.registerSecretValue(`sbx_at_${randomBytes(24).toString('base64url')}`);
    rows.push({ registeredValues, dependencyMs: timed(() => telemetry.dependency(dependency)), exceptionMs: timed(() => telemetry.exception(error)) });
  }
  return rows;
}

if (require.main === module) {
  for (const row of benchTelemetryMasking()) {
    console.log(`${String(row.registeredValues).padStart(6)} registered values: dependency() ${row.dependencyMs.toFixed(3)} ms, exception() ${row.exceptionMs.toFixed(3)} ms`);
  }
}
