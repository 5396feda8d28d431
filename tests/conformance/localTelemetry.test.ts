import { Writable } from 'node:stream';
import { isSecretKey, MASK, maskProperties, maskText } from '../../shared/core/masking';
import { ManualClock } from '../../shared/core/manualClock';
import { JsonLinesTelemetry, type TelemetrySink } from '../../shared/platform/local/jsonLinesTelemetry';

function collector(): { sink: TelemetrySink; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  return {
    sink: { write: (chunk: string, callback?: (error?: Error | null) => void) => (chunks.push(chunk), callback?.(), true) },
    lines: () => chunks.join('').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('JsonLinesTelemetry', () => {
  it('writes one JSON object per line with time, type and level', () => {
    const { sink, lines } = collector();
    const telemetry = new JsonLinesTelemetry({ sink, clock: new ManualClock('2026-03-01T09:00:00.000Z') });
    telemetry.log('warn', 'slow page', { runId: 'run_1', ms: 1200 });
    telemetry.event('RunStarted', { runId: 'run_1' }, { entities: 2 });
    telemetry.metric('records.synced', 1000, { entity: 'customers' });
    telemetry.dependency({ type: 'HTTP', target: 'crm.example', name: 'GET /v1/customers', durationMs: 35, success: false, resultCode: 503 });
    telemetry.exception(new Error('boom'));
    expect(lines()).toEqual([
      { time: '2026-03-01T09:00:00.000Z', type: 'log', level: 'warn', message: 'slow page', properties: { runId: 'run_1', ms: 1200 } },
      { time: '2026-03-01T09:00:00.000Z', type: 'event', level: 'info', name: 'RunStarted', properties: { runId: 'run_1' }, measurements: { entities: 2 } },
      { time: '2026-03-01T09:00:00.000Z', type: 'metric', level: 'info', name: 'records.synced', value: 1000, properties: { entity: 'customers' } },
      { time: '2026-03-01T09:00:00.000Z', type: 'dependency', level: 'warn', dependencyType: 'HTTP', target: 'crm.example', name: 'GET /v1/customers', durationMs: 35, success: false, resultCode: 503 },
      expect.objectContaining({ type: 'exception', level: 'error', errorName: 'Error', message: 'boom', stack: expect.stringContaining('boom') }),
    ]);
  });

  it('drops lines below its level: info by default, debug only when asked', () => {
    const quiet = collector();
    const telemetry = new JsonLinesTelemetry({ sink: quiet.sink });
    telemetry.log('debug', 'hidden');
    telemetry.log('info', 'shown');
    expect(quiet.lines().map((l) => l.message)).toEqual(['shown']);

    const errorsOnly = collector();
    const strict = new JsonLinesTelemetry({ sink: errorsOnly.sink, level: 'error' });
    strict.log('warn', 'hidden');
    strict.event('Hidden');
    strict.exception(new Error('shown'));
    expect(errorsOnly.lines().map((l) => l.message)).toEqual(['shown']);

    const verbose = collector();
    new JsonLinesTelemetry({ sink: verbose.sink, level: 'debug' }).log('debug', 'shown');
    expect(verbose.lines()).toHaveLength(1);
  });

  it('builds nothing for a line below its level (a metric per webhook costs no clock read or formatting at warn)', () => {
    const { sink, lines } = collector();
    const clock = new ManualClock('2026-03-01T09:00:00.000Z');
    const reads = jest.spyOn(clock, 'now');
    const telemetry = new JsonLinesTelemetry({ sink, level: 'warn', clock });
    telemetry.metric('WebhookLatencyMs', 3, { connectionId: 'c1' });
    telemetry.event('Hidden', { a: 1 });
    telemetry.log('info', 'hidden');
    telemetry.dependency({ type: 'HTTP', target: 'crm.example', name: 'GET /', durationMs: 1, success: true });
    expect(reads).not.toHaveBeenCalled();
    telemetry.dependency({ type: 'HTTP', target: 'crm.example', name: 'GET /', durationMs: 1, success: false });
    expect(reads).toHaveBeenCalled();
    expect(lines()).toEqual([expect.objectContaining({ type: 'dependency', level: 'warn', success: false })]);
  });

  it('keeps the code of a SyncBridgeError-like error and a summary of its cause', () => {
    const { sink, lines } = collector();
    const error = Object.assign(new Error('outer', { cause: new TypeError('inner') }), { code: 'transient' });
    new JsonLinesTelemetry({ sink }).exception(error);
    expect(lines()[0]).toMatchObject({ code: 'transient', cause: 'TypeError: inner' });
  });

  it('never throws when the sink throws, and keeps working afterwards', () => {
    let fail = true;
    const written: string[] = [];
    const telemetry = new JsonLinesTelemetry({
      sink: {
        write: (chunk: string) => {
          if (fail) throw new Error('disk full');
          written.push(chunk);
          return true;
        },
      },
    });
    expect(() => telemetry.log('error', 'lost')).not.toThrow();
    fail = false;
    telemetry.log('error', 'kept');
    expect(written.join('')).toContain('kept');
  });

  it('survives a stream that reports a write error as an event (EPIPE) instead of crashing the process', async () => {
    const stream = new Writable({
      write(_chunk, _encoding, done) {
        done(new Error('EPIPE'));
      },
    });
    const telemetry = new JsonLinesTelemetry({ sink: stream });
    telemetry.log('info', 'into a broken pipe');
    await expect(telemetry.flush()).resolves.toBeUndefined();
  });

  it('gives up flushing a sink that never calls back, after flushTimeoutMs', async () => {
    const telemetry = new JsonLinesTelemetry({ sink: { write: () => true }, flushTimeoutMs: 50 });
    const started = Date.now();
    await telemetry.flush();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses an unknown level, a negative flush timeout or unbounded secret values at construction, naming the option', () => {
    expect(() => new JsonLinesTelemetry({ level: 'verbose' as never })).toThrow(/level/);
    expect(() => new JsonLinesTelemetry({ flushTimeoutMs: -1 })).toThrow(/flushTimeoutMs/);
    expect(() => new JsonLinesTelemetry({ maxSecretValues: 0 })).toThrow(/maxSecretValues/);
    expect(() => new JsonLinesTelemetry({ secretValueRetentionMs: -1 })).toThrow(/secretValueRetentionMs/);
  });

  it('warns once, naming the option, when maxSecretValues forgets values still inside their retention', () => {
    const { sink, lines } = collector();
    const telemetry = new JsonLinesTelemetry({ sink, maxSecretValues: 3, clock: new ManualClock() });
    const values = ['value-1-4f1c', 'value-2-9a0e', 'value-3-77d2', 'value-4-c3b5', 'value-5-0e61'];
    for (const value of values.slice(0, 3)) telemetry.registerSecretValue(value);
    expect(lines()).toEqual([]);
    for (const value of values.slice(3)) telemetry.registerSecretValue(value);
    expect(lines()).toEqual([expect.objectContaining({ type: 'log', level: 'warn', message: expect.stringContaining('maxSecretValues') })]);
    expect(JSON.stringify(lines())).not.toMatch(/value-\d/);
  });
});

describe('masking rules (shared/core/masking.ts)', () => {
  it('recognises secret-looking keys in any case and position', () => {
    for (const key of ['password', 'dbPassword', 'passwd', 'client_secret', 'SECRET', 'token', 'accessToken', 'apikey', 'apiKey', 'api_key', 'x-api-key', 'Authorization', 'proxy-authorization', 'credential', 'credentials', 'Cookie', 'set-cookie', 'signature', 'X-Hub-Signature-256']) {
      expect(isSecretKey(key)).toBe(true);
    }
    for (const key of ['runId', 'connectionId', 'entity', 'status', 'durationMs', 'api', 'key', 'author']) {
      expect(isSecretKey(key)).toBe(false);
    }
  });

  it('masks secret-named values of every type but keeps null and undefined visible as such', () => {
    expect(maskProperties({ password: 'x', pin_token: 1234, apiKey: true, secret: null, token: undefined, runId: 'run_1' })).toEqual({
      password: MASK,
      pin_token: MASK,
      apiKey: MASK,
      secret: null,
      token: undefined,
      runId: 'run_1',
    });
  });

  it('masks registered values inside other strings, longest first', () => {
    expect(maskText('a=s3cr3t b=s3cr3t-long', ['s3cr3t', 's3cr3t-long'])).toBe(`a=${MASK} b=${MASK}`);
    expect(maskProperties({ url: 'https://x/?k=s3cr3t' }, ['s3cr3t'])).toEqual({ url: `https://x/?k=${MASK}` });
    expect(maskText('unchanged', [''])).toBe('unchanged');
  });
});
