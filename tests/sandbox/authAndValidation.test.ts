import type { RunningSandbox } from '../../sandbox/server';
import { providerGet, startTestSandbox } from './sandboxTestClient';

describe('sandbox provider API authentication and validation', () => {
  let sandbox: RunningSandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox({ recordsPerEntity: 50, apiKey: 'test-key-1', maxPageSize: 200 });
  });
  afterAll(() => sandbox.close());

  async function expectError(response: Response, status: number, mentions: string): Promise<void> {
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/json');
    const body = (await response.json()) as { error: string };
    expect(body.error).toContain(mentions);
  }

  it('answers 401 JSON without an API key', async () => {
    await expectError(await providerGet(sandbox, '/v1/customers', null), 401, 'X-Api-Key');
  });

  it('answers 401 JSON for a wrong API key, including one that differs only in length', async () => {
    await expectError(await providerGet(sandbox, '/v1/customers', 'test-key-2'), 401, 'X-Api-Key');
    await expectError(await providerGet(sandbox, '/v1/customers', 'test-key-10'), 401, 'X-Api-Key');
    await expectError(await providerGet(sandbox, '/v1/customers/cus_0000001', ''), 401, 'X-Api-Key');
  });

  it('accepts the configured key', async () => {
    expect((await providerGet(sandbox, '/v1/customers?limit=1')).status).toBe(200);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=201', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=1.5', 'limit'],
    ['updated_since=yesterday', 'updated_since'],
    ['updated_since=2026-13-45T00:00:00Z', 'updated_since'],
    ['updated_since=2026-01-01', 'updated_since'],
    ['cursor=not-a-cursor', 'cursor'],
    ['cursor=%21%21', 'cursor'],
  ])('answers 400 naming the parameter for %s', async (query, parameter) => {
    await expectError(await providerGet(sandbox, `/v1/orders?${query}`), 400, `'${parameter}'`);
  });

  it('rejects a cursor issued by another entity listing', async () => {
    const page = (await (await providerGet(sandbox, '/v1/customers?limit=5')).json()) as { next_cursor: string };
    await expectError(await providerGet(sandbox, `/v1/orders?cursor=${page.next_cursor}`), 400, "'cursor'");
    expect((await providerGet(sandbox, `/v1/customers?cursor=${page.next_cursor}`)).status).toBe(200);
  });

  it('answers 404 for an unknown entity, an unknown id and an unknown path', async () => {
    await expectError(await providerGet(sandbox, '/v1/invoices'), 404, 'invoices');
    await expectError(await providerGet(sandbox, '/v1/customers/cus_9999999'), 404, 'cus_9999999');
    await expectError(await providerGet(sandbox, '/v1/customers/ord_0000001'), 404, 'ord_0000001');
    await expectError(await providerGet(sandbox, '/v1/customers/cus_0000001/extra'), 404, 'No such resource');
    await expectError(await providerGet(sandbox, '/nowhere'), 404, '/nowhere');
  });

  it('answers 405 naming the allowed methods for a method the path does not take', async () => {
    const onCollection = await fetch(`${sandbox.url}/v1/customers`, { method: 'PATCH', headers: { 'X-Api-Key': 'test-key-1' }, body: '{}' });
    expect(onCollection.status).toBe(405);
    expect(onCollection.headers.get('allow')).toBe('GET, POST');
    const onRecord = await fetch(`${sandbox.url}/v1/customers/cus_0000001`, { method: 'POST', headers: { 'X-Api-Key': 'test-key-1' }, body: '{}' });
    expect(onRecord.status).toBe(405);
    expect(onRecord.headers.get('allow')).toBe('GET, PUT, PATCH, DELETE');
  });

  it('authenticates writes like reads', async () => {
    const response = await fetch(`${sandbox.url}/v1/customers`, { method: 'POST', headers: { 'X-Api-Key': 'wrong' }, body: '{"email":"a@example.com"}' });
    expect(response.status).toBe(401);
  });
});
