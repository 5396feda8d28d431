import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isSyncBridgeError } from '../../../shared/core/errors';
import { ManualClock } from '../../../shared/core/manualClock';
import { ConnectionLimitsRegistry } from '../../../shared/http/connectionLimits';
import { ProviderHttpClient } from '../../../shared/http/providerHttpClient';
import { useScriptedProvider, type ScriptedAnswer } from '../../support/scriptedProvider';

async function outcome(promise: Promise<unknown>): Promise<{ code: string; status?: number; retryAt?: Date; message: string }> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (error === undefined) return { code: 'ok', message: '' };
  if (!isSyncBridgeError(error)) throw error;
  return { code: error.code, status: error.status, retryAt: error.retryAt, message: error.message };
}

/**
 * The circuit breaker of a connection's provider calls, over real HTTP with a ManualClock: two
 * clients of one connection (a pull's and a push's) share it through the registry.
 */
describe('provider circuit breaker', () => {
  let next: ScriptedAnswer = { status: 200, body: {} };
  const provider = useScriptedProvider(() => next);
  const { requests } = provider;
  let clock: ManualClock;
  let registry: ConnectionLimitsRegistry;
  const client = (connectionId: string, config: Record<string, unknown> = {}, baseUrl = provider.baseUrl) =>
    new ProviderHttpClient({ baseUrl, clock, limits: registry.for(connectionId, config), timeoutMs: 2000 });
  beforeEach(() => {
    clock = new ManualClock();
    registry = new ConnectionLimitsRegistry();
    requests.length = 0;
  });

  test('five 5xx in a row open it: calls fail fast as transient until the cool-down, then one trial reopens or closes it', async () => {
    const pull = client('c1');
    const push = client('c1');
    next = { status: 503, body: { error: 'down' } };
    for (let i = 0; i < 5; i += 1) expect((await outcome(pull.request({ path: '/v1/customers' }))).status).toBe(503);
    const fast = await outcome(push.request({ method: 'POST', path: '/v1/customers', body: {} }));
    expect(fast).toMatchObject({ code: 'transient', status: undefined, retryAt: new Date(clock.now().getTime() + 30_000) });
    expect(fast.message).toMatch(/did not send POST \/v1\/customers: the circuit .* connection c1 is open after 5 failures in a row \(the last: HTTP 503 on GET \/v1\/customers\)/);
    expect(requests).toHaveLength(5);
    // Another connection of the same provider is not affected.
    next = { status: 200, body: {} };
    expect((await outcome(client('c2').request({ path: '/v1/customers' }))).code).toBe('ok');
    expect(requests).toHaveLength(6);

    clock.advance(29_999);
    expect((await outcome(pull.request({ path: '/v1/customers' }))).code).toBe('transient');
    expect(requests).toHaveLength(6);
    clock.advance(1);
    next = { status: 502, body: {} };
    expect((await outcome(pull.request({ path: '/v1/customers' }))).status).toBe(502); // the trial went out, and failed
    expect(await outcome(push.request({ path: '/v1/customers' }))).toMatchObject({ code: 'transient', retryAt: new Date(clock.now().getTime() + 30_000) });
    expect(requests).toHaveLength(7);

    clock.advance(30_000);
    next = { status: 200, body: {} };
    expect((await outcome(push.request({ path: '/v1/customers' }))).code).toBe('ok'); // the trial closes it
    expect((await outcome(pull.request({ path: '/v1/customers' }))).code).toBe('ok');
    expect(requests).toHaveLength(9);
  });

  test('while the trial call is out, other calls fail fast without a retry time (their own backoff applies)', async () => {
    const c = client('c3', { circuitFailureThreshold: 1, circuitCoolDownMs: 1000 });
    next = { status: 500, body: {} };
    await outcome(c.request({ path: '/v1/customers' }));
    clock.advance(1000);
    next = { status: 200, body: {} };
    const trial = outcome(c.request({ path: '/v1/customers' }));
    const during = await outcome(c.request({ path: '/v1/customers' }));
    expect(during).toMatchObject({ code: 'transient', retryAt: undefined });
    expect(during.message).toMatch(/a trial call is out/);
    expect((await trial).code).toBe('ok');
    expect((await outcome(c.request({ path: '/v1/customers' }))).code).toBe('ok');
  });

  test('an answer below 500 (a 4xx too) ends a run of failures: only failures in a row open it', async () => {
    const c = client('c4');
    for (const status of [503, 503, 503, 503, 422, 503, 503, 503, 503]) {
      next = { status, body: {} };
      await outcome(c.request({ path: '/v1/customers' }));
    }
    next = { status: 200, body: {} };
    expect((await outcome(c.request({ path: '/v1/customers' }))).code).toBe('ok');
    expect(requests).toHaveLength(10);
  });

  test('connections refused and timeouts count as failures', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const refusedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = client('c5', { circuitFailureThreshold: 2 }, refusedUrl);
    expect((await outcome(refused.request({ path: '/' }))).message).toMatch(/failed before a complete answer/);
    await outcome(refused.request({ path: '/' }));
    expect((await outcome(refused.request({ path: '/' }))).message).toMatch(/open after 2 failures in a row \(the last: no answer to GET \/\)/);

    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const slow = new ProviderHttpClient({ baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, clock, limits: registry.for('c6', { circuitFailureThreshold: 1 }), timeoutMs: 100 });
      expect((await outcome(slow.request({ path: '/' }))).message).toMatch(/did not answer/);
      expect((await outcome(slow.request({ path: '/' }))).message).toMatch(/circuit .* is open/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  test('a 429 with Retry-After holds every client of the connection, as rate_limited, until it lapses', async () => {
    const pull = client('c7');
    const push = client('c7');
    next = { status: 429, body: {}, headers: { 'retry-after': '120' } };
    expect((await outcome(pull.request({ path: '/v1/customers' }))).code).toBe('rate_limited');
    next = { status: 200, body: {} };
    const held = await outcome(push.request({ method: 'PATCH', path: '/v1/customers/a', body: {} }));
    expect(held).toMatchObject({ code: 'rate_limited', retryAt: new Date(clock.now().getTime() + 120_000) });
    expect(requests).toHaveLength(1);
    clock.advance(120_000);
    expect((await outcome(push.request({ method: 'PATCH', path: '/v1/customers/a', body: {} }))).code).toBe('ok');
  });

  test('a 503 with Retry-After (maintenance) holds every client of the connection, as transient with that retry time, until it lapses', async () => {
    const pull = client('c9');
    const push = client('c9');
    next = { status: 503, body: { error: 'maintenance' }, headers: { 'retry-after': '600' } };
    const met = await outcome(pull.request({ path: '/v1/customers' }));
    expect(met).toMatchObject({ code: 'transient', status: 503, retryAt: new Date(clock.now().getTime() + 600_000) });
    next = { status: 200, body: {} };
    const held = await outcome(push.request({ method: 'PATCH', path: '/v1/customers/a', body: {} }));
    // The kind and time the call that met the 503 got: callers wait for both alike.
    expect(held).toMatchObject({ code: 'transient', status: undefined, retryAt: met.retryAt });
    expect(held.message).toMatch(/held PATCH \/v1\/customers\/a until .* without sending it: the provider of connection c9 is unavailable until then \(HTTP 503 with Retry-After on GET \/v1\/customers\)/);
    expect(requests).toHaveLength(1);
    clock.advance(599_999);
    expect((await outcome(pull.request({ path: '/v1/customers' }))).code).toBe('transient');
    expect(requests).toHaveLength(1);
    clock.advance(1);
    expect((await outcome(push.request({ method: 'PATCH', path: '/v1/customers/a', body: {} }))).code).toBe('ok');
    expect(requests).toHaveLength(2);
  });

  test('a 503 with a Retry-After beyond maxRetryWaitMs holds the connection for the cap only', async () => {
    const limits = registry.for('c10', {});
    const tight = new ProviderHttpClient({ baseUrl: provider.baseUrl, clock, limits, timeoutMs: 2000, maxRetryWaitMs: 60_000 });
    next = { status: 503, body: {}, headers: { 'retry-after': '99999999' } };
    expect((await outcome(tight.request({ path: '/v1/customers' }))).retryAt).toEqual(new Date(clock.now().getTime() + 60_000));
    next = { status: 200, body: {} };
    expect(await outcome(tight.request({ path: '/v1/customers/a' }))).toMatchObject({ code: 'transient', retryAt: new Date(clock.now().getTime() + 60_000) });
    clock.advance(60_000);
    expect((await outcome(tight.request({ path: '/v1/customers/a' }))).code).toBe('ok');
  });

  test('a 503 without Retry-After, or another 5xx with one, holds nothing: the next call goes out', async () => {
    const calls = client('c11');
    for (const answer of [
      { status: 503, body: {} },
      { status: 500, body: {}, headers: { 'retry-after': '600' } },
      { status: 502, body: {}, headers: { 'retry-after': '600' } },
    ] as ScriptedAnswer[]) {
      next = answer;
      expect((await outcome(calls.request({ path: '/v1/customers' }))).status).toBe(answer.status);
      next = { status: 200, body: {} };
      expect((await outcome(calls.request({ path: '/v1/customers/a' }))).code).toBe('ok');
    }
    expect(requests).toHaveLength(6);
  });

  test('bad circuit settings fail naming the config field', () => {
    expect(() => registry.for('c8', { circuitFailureThreshold: 0 })).toThrow(/config.circuitFailureThreshold/);
    expect(() => registry.for('c8', { circuitCoolDownMs: 'soon' })).toThrow(/config.circuitCoolDownMs/);
  });
});
