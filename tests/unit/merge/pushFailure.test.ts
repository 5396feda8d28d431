import Database from 'better-sqlite3';
import { SyncBridgeError } from '../../../shared/core/errors';
import { classifyPushFailure, failureText, isGone } from '../../../shared/core/outbound/pushFailure';
import { toSyncBridgeError } from '../../../shared/platform/azure/cosmos/cosmosErrors';
import { PassThrough } from 'node:stream';
import { createLocalPlatform } from '../../../shared/platform/local/localPlatform';
import { makeRecord } from '../../conformance/recordStore.conformance';
import { tempDirectory } from '../../local/helpers';

/** The whole table of shared/core/outbound/pushFailure.ts, one row per status (the e2e suite proves the classes over HTTP). */
describe('classifyPushFailure', () => {
  const rejected = (status: number, body = '{"error":"no"}') => new SyncBridgeError('provider_rejected', `The provider rejected PATCH /v1/customers/c1 with HTTP ${status}: ${body}`, { status });
  const decide = (error: unknown, op: 'create' | 'update' | 'delete' = 'update') => {
    const failure = classifyPushFailure(error, op);
    if (failure.action === 'retry') return 'retry';
    return failure.action === 'dead' ? `dead:${failure.kind}:${failure.reasonCode}` : `park:${failure.kind}`;
  };
  /** What a dead letter will say once the retries of a retried failure run out. */
  const exhausted = (error: unknown) => {
    const failure = classifyPushFailure(error, 'update');
    return failure.action === 'retry' ? failure.exhausted : `not retried: ${failure.action}`;
  };

  it('retries what may pass: 5xx and network (transient), 429, 408, 412, 425', () => {
    expect(decide(new SyncBridgeError('transient', 'HTTP 503', { status: 503 }))).toBe('retry');
    expect(decide(new SyncBridgeError('rate_limited', 'HTTP 429', { status: 429, retryAt: new Date() }))).toBe('retry');
    expect([408, 412, 425].map((status) => decide(rejected(status)))).toEqual(['retry', 'retry', 'retry']);
  });

  it('parks refused values as validation_error, whatever the 4xx a person must look at', () => {
    expect([400, 405, 413, 415, 422, 451].map((status) => decide(rejected(status)))).toEqual(Array(6).fill('park:validation_error'));
    expect(decide(new SyncBridgeError('provider_rejected', 'The token endpoint issued a MAC token.'))).toBe('park:validation_error');
  });

  it('parks 409 and a 422 naming "taken" as duplicate_key', () => {
    expect(decide(rejected(409))).toBe('park:duplicate_key');
    expect(decide(rejected(422, '{"errors":[{"field":"email","code":"taken"}]}'))).toBe('park:duplicate_key');
  });

  it('parks 404 and 410 on an update as data_mismatch, on a create as validation_error', () => {
    expect([404, 410].map((status) => decide(rejected(status), 'update'))).toEqual(['park:data_mismatch', 'park:data_mismatch']);
    expect([404, 410].map((status) => decide(rejected(status), 'create'))).toEqual(['park:validation_error', 'park:validation_error']);
    expect([404, 410, 400].map((status) => isGone(rejected(status)))).toEqual([true, true, false]);
  });

  it('parks a success answer the adapter could not use (a create answered 201 without an id) as data_mismatch: never a retry', () => {
    expect(decide(new SyncBridgeError('provider_rejected', 'answered the create with HTTP 201 but no id', { status: 201 }), 'create')).toBe('park:data_mismatch');
    expect(decide(new SyncBridgeError('provider_rejected', 'answered with HTTP 200 but no id', { status: 200 }), 'create')).toBe('park:data_mismatch');
  });

  it('dead-letters refused credentials as auth_error, saying the provider refused them', () => {
    expect(decide(new SyncBridgeError('auth_failed', 'HTTP 401', { status: 401 }))).toBe('dead:auth_error:provider_auth');
  });

  it('dead-letters a read-only provider and other setup faults at once, saying so: not the provider\'s failure, and no retry fixes it', () => {
    const readOnly = classifyPushFailure(new SyncBridgeError('configuration', 'Provider stripe is read-only: it takes no pushes.'), 'update');
    expect(readOnly).toEqual({ action: 'dead', kind: 'retry_exhausted', reasonCode: 'configuration', reason: expect.stringMatching(/cannot make this push as the connection is set up: Provider stripe is read-only/) });
    expect(decide(new SyncBridgeError('configuration', 'The credential of connection c1 is missing from the secret store.'))).toBe('dead:retry_exhausted:configuration');
    expect(decide(new SyncBridgeError('validation', 'config.baseUrl "ftp://x" is not an http(s) URL.'))).toBe('dead:retry_exhausted:configuration');
    expect(decide(new SyncBridgeError('internal', 'Cosmos DB refused the request: bad batch', { status: 400 }))).toBe('dead:retry_exhausted:internal_error');
  });

  it('retries a fault of our own store, as the normal backoff does a provider\'s: Cosmos DB 503 and a real SQLITE_BUSY', async () => {
    expect(decide(toSyncBridgeError(Object.assign(new Error('Service Unavailable'), { code: 503 }), 'records.write'))).toBe('retry');
    // The local store's write meets another connection's lock past its busy timeout.
    const dir = tempDirectory('syncbridge-busy-');
    const platform = createLocalPlatform({ dataDir: dir.path, telemetrySink: new PassThrough().resume(), busyTimeoutMs: 0, checkpointIntervalMs: 0 });
    const holder = new Database(dir.dbPath);
    try {
      holder.exec('BEGIN IMMEDIATE');
      const busy = await platform.records.write([makeRecord({ tenantId: 't1', connectionId: 'c1', entity: 'customers' }, 'c-1')]).then(() => undefined, (error: unknown) => error);
      expect((busy as Error).cause).toMatchObject({ code: 'SQLITE_BUSY' });
      expect(decide(busy)).toBe('retry');
      expect(exhausted(busy)).toBe('retries_exhausted'); // a lock that never let go is a store that kept failing, not a bug of ours
    } finally {
      if (holder.inTransaction) holder.exec('ROLLBACK');
      holder.close();
      await platform.close();
      dir.remove();
    }
  });

  it('retries what nobody classified (a bug cannot be told from a fault that passes), and a lost race of our store', () => {
    expect(decide(new TypeError('Cannot read properties of undefined'))).toBe('retry');
    expect(exhausted(new TypeError('Cannot read properties of undefined'))).toBe('internal_error');
    expect(decide('a thrown string')).toBe('retry');
    expect(decide(new SyncBridgeError('conflict', 'records.write: changed by someone else (412)', { status: 412 }))).toBe('retry');
    expect(exhausted(new SyncBridgeError('transient', 'HTTP 503', { status: 503 }))).toBe('retries_exhausted');
  });

  it('masks a credential in the text of our own failures, then cuts it', () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.sig';
    const text = failureText(new TypeError(`fetch failed for Authorization: Bearer ${token} ${'x'.repeat(2000)}`));
    expect(text).not.toContain(token);
    expect(text).toContain('Bearer ***');
    expect(text.length).toBeLessThanOrEqual(500);
    const failure = classifyPushFailure(new SyncBridgeError('configuration', `Bad header Basic ${Buffer.from('user:pass-word-secret-1').toString('base64')}`), 'update');
    expect(failure).toMatchObject({ reason: expect.stringContaining('Basic ***') });
  });

  it('quotes the provider\'s message in the reason', () => {
    const failure = classifyPushFailure(rejected(400, '{"error":"name is too long"}'), 'update');
    expect(failure).toMatchObject({ action: 'park', reason: expect.stringContaining('name is too long') });
  });
});
