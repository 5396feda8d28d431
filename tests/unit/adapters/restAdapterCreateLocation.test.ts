import { sandboxProvider } from '../../../shared/adapters/providers/sandbox';
import type { ProviderAdapter } from '../../../shared/adapters/adapter';
import type { Connection } from '../../../shared/core/model';
import { systemClock } from '../../../shared/ports/clock';
import { useScriptedProvider, type ScriptedAnswer } from '../../support/scriptedProvider';

/**
 * A create answered 2xx with no body, as many REST APIs answer `201 Created`, names the new record
 * only in its `Location`. The adapter reads that record back with one GET on the connection's own
 * origin, with the connection's credentials, instead of parking the push as "cannot tell which
 * record it created".
 */
describe('RestAdapter: a create answered without a body is read back from its Location', () => {
  const seen: Array<{ method?: string; url?: string; apiKey?: unknown }> = [];
  let created: ScriptedAnswer = { status: 201, body: undefined };
  let readBack: ScriptedAnswer = { status: 200, body: {} };
  const provider = useScriptedProvider((_n, req) => {
    seen.push({ method: req.method, url: req.url, apiKey: req.headers['x-api-key'] });
    return req.method === 'POST' ? created : readBack;
  });
  const otherSeen: string[] = [];
  const other = useScriptedProvider((_n, req) => {
    otherSeen.push(`${req.method} ${req.url} ${String(req.headers['x-api-key'])}`);
    return { status: 200, body: { id: 'elsewhere', updated_at: '2026-01-01T00:00:00Z' } };
  });

  let adapter: ProviderAdapter;
  beforeAll(() => {
    adapter = sandboxProvider.create({
      connection: { id: 'c-location', tenantId: 't1', provider: 'sandbox', config: { baseUrl: provider.baseUrl } } as unknown as Connection,
      credentials: { type: 'apiKey', apiKey: 'sk_location_key' },
      clock: systemClock,
    });
  });
  beforeEach(() => {
    seen.length = 0;
    otherSeen.length = 0;
  });
  const create = () => adapter.push!({ entity: 'customers', op: 'create', externalId: null, data: { email: 'a@b.c' }, idempotencyKey: 'k-location' });
  const record = { id: 'cus_77', updated_at: '2026-01-02T03:04:05Z', email: 'a@b.c' };

  it('follows a relative Location with one GET carrying the same credentials, and returns that record', async () => {
    created = { status: 201, body: undefined, headers: { location: '/v1/customers/cus_77' } };
    readBack = { status: 200, body: record };
    expect(await create()).toMatchObject({ record: { externalId: 'cus_77', updatedAt: '2026-01-02T03:04:05Z', data: record } });
    expect(seen).toEqual([
      { method: 'POST', url: '/v1/customers', apiKey: 'sk_location_key' },
      { method: 'GET', url: '/v1/customers/cus_77', apiKey: 'sk_location_key' },
    ]);
  });

  it('does not take a 202 Accepted\'s Location (an operation to poll, RFC 9110 §15.3.3) for the created record: parked as before, nothing read', async () => {
    created = { status: 202, body: undefined, headers: { location: '/v1/operations/op_1' } };
    readBack = { status: 200, body: { id: 'op_1', status: 'running', updated_at: '2026-01-02T03:04:05Z' } };
    await expect(create()).rejects.toMatchObject({ code: 'provider_rejected', status: 202 });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /v1/customers']);
  });

  it('follows an absolute Location on the same origin', async () => {
    created = { status: 201, body: undefined, headers: { location: `${provider.baseUrl}/v1/customers/cus_77?expand=none` } };
    readBack = { status: 200, body: record };
    expect(await create()).toMatchObject({ record: { externalId: 'cus_77' } });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /v1/customers', 'GET /v1/customers/cus_77?expand=none']);
  });

  it('refuses a Location on another origin: nothing is sent there, and the push is parked as before', async () => {
    created = { status: 201, body: undefined, headers: { location: `${other.baseUrl}/v1/customers/cus_77?token=secret-in-location` } };
    await expect(create()).rejects.toMatchObject({ code: 'provider_rejected', status: 201, message: expect.stringMatching(/another origin/) });
    await expect(create()).rejects.toMatchObject({ message: expect.not.stringMatching(/secret-in-location/) });
    expect(otherSeen).toEqual([]);
    expect(seen.map((s) => s.method)).toEqual(['POST', 'POST']);
  });

  it('takes the id from a Location that is the record path when the read-back fails as a retry would fix (5xx, 429): no second POST', async () => {
    for (const failed of [
      { status: 503, body: { error: 'busy' } },
      { status: 500, body: { error: 'oops' } },
      { status: 429, body: { error: 'slow down' }, headers: { 'retry-after': '30' } },
    ] as ScriptedAnswer[]) {
      seen.length = 0;
      created = { status: 201, body: undefined, headers: { location: '/v1/customers/cus_77' } };
      readBack = failed;
      expect(await create()).toEqual({ record: { externalId: 'cus_77', updatedAt: null, deleted: false, data: { email: 'a@b.c' } } });
      expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /v1/customers', 'GET /v1/customers/cus_77']);
    }
  });

  it('parks as before when the read-back fails transiently but the Location is not the record path of one id', async () => {
    created = { status: 201, body: undefined, headers: { location: '/v1/customers/cus_77/versions/1' } };
    readBack = { status: 503, body: { error: 'busy' } };
    await expect(create()).rejects.toMatchObject({ code: 'provider_rejected', status: 201, message: expect.stringMatching(/failed: The provider failed GET \/v1\/customers\/cus_77\/versions\/1 with HTTP 503\. The record probably exists/) });
  });

  it('parks as before when the Location names no record (404), or there is no Location', async () => {
    created = { status: 201, body: undefined, headers: { location: '/v1/customers/cus_missing' } };
    readBack = { status: 404, body: { error: 'not found' } };
    await expect(create()).rejects.toMatchObject({ code: 'provider_rejected', status: 201, message: expect.stringMatching(/cannot tell which record it created/) });
    created = { status: 201, body: undefined };
    await expect(create()).rejects.toMatchObject({ code: 'provider_rejected', status: 201, message: expect.stringMatching(/no body/) });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /v1/customers', 'GET /v1/customers/cus_missing', 'POST /v1/customers']);
  });
});
