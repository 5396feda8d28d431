import { SyncBridgeError } from '../../../shared/core/errors';
import { classifyPushFailure, isGone } from '../../../shared/core/outbound/pushFailure';

/** The whole table of shared/core/outbound/pushFailure.ts, one row per status (the e2e suite proves the classes over HTTP). */
describe('classifyPushFailure', () => {
  const rejected = (status: number, body = '{"error":"no"}') => new SyncBridgeError('provider_rejected', `The provider rejected PATCH /v1/customers/c1 with HTTP ${status}: ${body}`, { status });
  const decide = (error: unknown, op: 'create' | 'update' | 'delete' = 'update') => {
    const failure = classifyPushFailure(error, op);
    return failure.action === 'retry' ? 'retry' : `${failure.action}:${failure.kind}`;
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

  it('dead-letters refused credentials as auth_error and what nothing settles as retry_exhausted', () => {
    expect(decide(new SyncBridgeError('auth_failed', 'HTTP 401', { status: 401 }))).toBe('dead:auth_error');
    expect(decide(new SyncBridgeError('configuration', 'Provider x is read-only: it takes no pushes.'))).toBe('dead:retry_exhausted');
    expect(decide(new TypeError('a bug'))).toBe('dead:retry_exhausted');
  });

  it('quotes the provider\'s message in the reason', () => {
    const failure = classifyPushFailure(rejected(400, '{"error":"name is too long"}'), 'update');
    expect(failure).toMatchObject({ action: 'park', reason: expect.stringContaining('name is too long') });
  });
});
