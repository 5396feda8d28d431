import type { RunningSandbox } from '../../sandbox/server';
import { ListedItem, control, listAll, providerJson, startTestSandbox } from './sandboxTestClient';

interface WriteAnswer {
  status: number;
  headers: Headers;
  body: (ListedItem & { error?: string; errors?: Array<{ field: string; code: string }>; record?: ListedItem }) | undefined;
}

async function write(sandbox: RunningSandbox, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<WriteAnswer> {
  const response = await fetch(`${sandbox.url}${path}`, {
    method,
    headers: { 'X-Api-Key': sandbox.apiKey, 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}

async function live(sandbox: RunningSandbox, entity: string): Promise<number> {
  return (await control<{ live: Record<string, number> }>(sandbox, 'GET', 'info')).live[entity];
}

interface WriteStats {
  writes: Record<string, number>;
  byKind: { write: Record<string, number> };
}

describe('sandbox /v1 writes', () => {
  let sandbox: RunningSandbox;
  beforeEach(async () => {
    sandbox = await startTestSandbox({ recordsPerEntity: 50 });
    await control(sandbox, 'POST', 'clock', { now: '2026-05-01T09:00:00Z' });
  });
  afterEach(() => sandbox.close());

  it('creates a record with a server-assigned id holding exactly the fields sent', async () => {
    const created = await write(sandbox, 'POST', '/v1/customers', { email: 'ada@example.com', name: 'Ada' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: 'cus_0000051', email: 'ada@example.com', name: 'Ada', created_at: '2026-05-01T09:00:00Z', updated_at: '2026-05-01T09:00:00Z' });
    expect(created.headers.get('location')).toBe('/v1/customers/cus_0000051');
    expect(created.headers.get('etag')).toBe('"1"');
    expect(await providerJson(sandbox, '/v1/customers/cus_0000051')).toEqual(created.body);
    const changes = await listAll(sandbox, 'customers', { updated_since: '2026-05-01T09:00:00Z' });
    expect(changes.items).toEqual([created.body]);
  });

  it('writes once for an Idempotency-Key sent twice and replays the first answer', async () => {
    const before = await live(sandbox, 'customers');
    const first = await write(sandbox, 'POST', '/v1/customers', { email: 'once@example.com' }, { 'Idempotency-Key': 'push-1' });
    await control(sandbox, 'POST', 'clock', { now: '2026-05-01T09:00:30Z' });
    const again = await write(sandbox, 'POST', '/v1/customers', { email: 'once@example.com' }, { 'Idempotency-Key': 'push-1' });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(await live(sandbox, 'customers')).toBe(before + 1);
    const stats = await control<WriteStats>(sandbox, 'GET', 'stats');
    expect(stats.writes).toMatchObject({ created: 1, idempotentReplays: 1 });
    expect(stats.byKind.write).toEqual({ '201': 2 });
  });

  it('writes once when the same key arrives concurrently', async () => {
    const before = await live(sandbox, 'orders');
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => write(sandbox, 'POST', '/v1/orders', { customer_id: 'cus_0000003', status: 'pending' }, { 'Idempotency-Key': 'concurrent' })),
    );
    expect(new Set(answers.map((answer) => answer.body?.id)).size).toBe(1);
    expect(await live(sandbox, 'orders')).toBe(before + 1);
  });

  it('answers 422 to a key reused with another body or on another path, and writes nothing', async () => {
    await write(sandbox, 'PATCH', '/v1/products/prd_0000002', { price: 10 }, { 'Idempotency-Key': 'k-1' });
    const otherBody = await write(sandbox, 'PATCH', '/v1/products/prd_0000002', { price: 11 }, { 'Idempotency-Key': 'k-1' });
    expect(otherBody.status).toBe(422);
    expect(otherBody.body?.error).toContain('different body');
    const otherPath = await write(sandbox, 'PATCH', '/v1/products/prd_0000003', { price: 10 }, { 'Idempotency-Key': 'k-1' });
    expect(otherPath.status).toBe(422);
    expect(otherPath.body?.error).toContain('/v1/products/prd_0000002');
    expect((await providerJson<ListedItem>(sandbox, '/v1/products/prd_0000002')).price).toBe(10);
    expect((await providerJson<ListedItem>(sandbox, '/v1/products/prd_0000003')).price).not.toBe(10);
    // Key order and whitespace do not make a different request.
    const reordered = await fetch(`${sandbox.url}/v1/products/prd_0000002`, { method: 'PATCH', headers: { 'X-Api-Key': sandbox.apiKey, 'Idempotency-Key': 'k-2' }, body: '{"price":5,"status":"draft"}' });
    const same = await fetch(`${sandbox.url}/v1/products/prd_0000002`, { method: 'PATCH', headers: { 'X-Api-Key': sandbox.apiKey, 'Idempotency-Key': 'k-2' }, body: '{ "status": "draft", "price": 5 }' });
    expect([reordered.status, same.status]).toEqual([200, 200]);
    expect(same.headers.get('idempotent-replayed')).toBe('true');
    expect((await control<WriteStats>(sandbox, 'GET', 'stats')).writes).toMatchObject({ updated: 2, idempotencyMismatches: 2, idempotentReplays: 1 });
  });

  it('keeps the result of a write whose response was cut off, so the retry does not write again', async () => {
    await control(sandbox, 'POST', 'faults', { truncateRate: 1 });
    const before = await live(sandbox, 'customers');
    const lost = fetch(`${sandbox.url}/v1/customers`, { method: 'POST', headers: { 'X-Api-Key': sandbox.apiKey, 'Idempotency-Key': 'retry-me' }, body: '{"email":"lost@example.com"}' }).then((r) => r.json());
    await expect(lost).rejects.toThrow();
    await control(sandbox, 'POST', 'faults', {});
    const retry = await write(sandbox, 'POST', '/v1/customers', { email: 'lost@example.com' }, { 'Idempotency-Key': 'retry-me' });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await live(sandbox, 'customers')).toBe(before + 1);
  });

  it('merges PATCH fields, bumps updated_at and the version', async () => {
    const original = await providerJson<ListedItem>(sandbox, '/v1/customers/cus_0000007');
    const patched = await write(sandbox, 'PATCH', '/v1/customers/cus_0000007', { notes: 'called back', loyalty_points: 5 });
    expect(patched.status).toBe(200);
    expect(patched.body).toEqual({ ...original, notes: 'called back', loyalty_points: 5, updated_at: '2026-05-01T09:00:00Z' });
    expect(patched.headers.get('etag')).toBe('"2"');
    const fetched = await fetch(`${sandbox.url}/v1/customers/cus_0000007`, { headers: { 'X-Api-Key': sandbox.apiKey } });
    expect(fetched.headers.get('etag')).toBe('"2"');
  });

  it('answers 412 with the current record when If-Match is stale, by version or by updated_at', async () => {
    const seeded = await providerJson<ListedItem>(sandbox, '/v1/customers/cus_0000009');
    const byVersion = await write(sandbox, 'PATCH', '/v1/customers/cus_0000009', { notes: 'first' }, { 'If-Match': '"1"' });
    expect(byVersion.status).toBe(200);
    const staleVersion = await write(sandbox, 'PATCH', '/v1/customers/cus_0000009', { notes: 'second' }, { 'If-Match': '"1"' });
    expect(staleVersion.status).toBe(412);
    expect(staleVersion.headers.get('etag')).toBe('"2"');
    expect(staleVersion.body?.record).toMatchObject({ id: 'cus_0000009', notes: 'first' });

    const staleTimestamp = await write(sandbox, 'PUT', '/v1/customers/cus_0000009', { email: 'x@example.com' }, { 'If-Match': seeded.updated_at });
    expect(staleTimestamp.status).toBe(412);
    const currentTimestamp = await write(sandbox, 'DELETE', '/v1/customers/cus_0000009', undefined, { 'If-Match': byVersion.body!.updated_at });
    expect(currentTimestamp.status).toBe(204);
    expect((await control<WriteStats>(sandbox, 'GET', 'stats')).writes).toMatchObject({ preconditionFailed: 2, deleted: 1 });
  });

  it('replaces a record with PUT, keeping id and created_at', async () => {
    const original = await providerJson<ListedItem>(sandbox, '/v1/customers/cus_0000004');
    const replaced = await write(sandbox, 'PUT', '/v1/customers/cus_0000004', { email: 'new@example.com', name: 'New Name' });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toEqual({ id: 'cus_0000004', email: 'new@example.com', name: 'New Name', created_at: original.created_at, updated_at: '2026-05-01T09:00:00Z' });
  });

  it('deletes once: a replay answers 204 again, a new request 404, and listings show the tombstone', async () => {
    const first = await write(sandbox, 'DELETE', '/v1/payments/pay_0000005', undefined, { 'Idempotency-Key': 'del-5' });
    expect(first.status).toBe(204);
    const replay = await write(sandbox, 'DELETE', '/v1/payments/pay_0000005', undefined, { 'Idempotency-Key': 'del-5' });
    expect(replay.status).toBe(204);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect((await write(sandbox, 'DELETE', '/v1/payments/pay_0000005')).status).toBe(404);
    const changes = await listAll(sandbox, 'payments', { updated_since: '2026-05-01T09:00:00Z' });
    expect(changes.items).toEqual([{ id: 'pay_0000005', deleted: true, updated_at: '2026-05-01T09:00:00Z' }]);
  });

  it.each([
    ['a customer without email', 'POST', '/v1/customers', { name: 'No Mail' }, [{ field: 'email', code: 'required' }]],
    ['a customer whose email has no @', 'POST', '/v1/customers', { email: 'nobody.example.com' }, [{ field: 'email', code: 'invalid' }]],
    ['a patch that nulls the email', 'PATCH', '/v1/customers/cus_0000001', { email: null }, [{ field: 'email', code: 'invalid' }]],
    ['an order for a customer that does not exist', 'POST', '/v1/orders', { customer_id: 'cus_0009999' }, [{ field: 'customer_id', code: 'not_found' }]],
    ['an order without a customer', 'PUT', '/v1/orders/ord_0000001', { status: 'paid' }, [{ field: 'customer_id', code: 'required' }]],
    ['a write that sets the id and a bad price', 'POST', '/v1/products', { id: 'prd_1', price: -1 }, [{ field: 'id', code: 'read_only' }, { field: 'price', code: 'invalid' }]],
  ])('answers 422 with field errors for %s, and writes nothing', async (_label, method, path, body, errors) => {
    const entity = path.split('/')[2];
    const before = await live(sandbox, entity);
    const answer = await write(sandbox, method, path, body);
    expect(answer.status).toBe(422);
    expect(answer.body?.errors).toEqual(errors.map((error) => ({ ...error, message: expect.stringContaining(`'${error.field}'`) })));
    expect(answer.body?.error).toContain(entity);
    expect(await live(sandbox, entity)).toBe(before);
    expect((await listAll(sandbox, entity, { updated_since: '2026-05-01T09:00:00Z' })).items).toEqual([]);
  });

  it('keeps customer emails unique: 422 taken for another customer\'s email, fine for the record\'s own', async () => {
    const seeded = await providerJson<ListedItem>(sandbox, '/v1/customers/cus_0000012');
    const clash = await write(sandbox, 'POST', '/v1/customers', { email: String(seeded.email).toUpperCase() });
    expect(clash.status).toBe(422);
    expect(clash.body?.errors).toEqual([{ field: 'email', code: 'taken', message: expect.stringContaining('cus_0000012') }]);
    expect((await write(sandbox, 'PATCH', '/v1/customers/cus_0000012', { email: seeded.email, notes: 'same email' })).status).toBe(200);

    const created = await write(sandbox, 'POST', '/v1/customers', { email: 'unique@example.com' });
    const second = await write(sandbox, 'PATCH', '/v1/customers/cus_0000013', { email: 'Unique@Example.com' });
    expect(second.status).toBe(422);
    expect(second.body?.errors?.[0]).toMatchObject({ code: 'taken', message: expect.stringContaining(created.body!.id) });
    // Once the holder changes its email, the old one is free again.
    await write(sandbox, 'PATCH', `/v1/customers/${created.body!.id}`, { email: 'renamed@example.com' });
    expect((await write(sandbox, 'PATCH', '/v1/customers/cus_0000013', { email: 'unique@example.com' })).status).toBe(200);
  });

  it('answers 404 for a write to a missing record and 400 for a malformed body or key', async () => {
    expect((await write(sandbox, 'PATCH', '/v1/customers/cus_0009999', { notes: 'x' })).status).toBe(404);
    const malformed = await fetch(`${sandbox.url}/v1/customers`, { method: 'POST', headers: { 'X-Api-Key': sandbox.apiKey }, body: '{"email":' });
    expect(malformed.status).toBe(400);
    const badKey = await write(sandbox, 'POST', '/v1/customers', { email: 'a@b.c' }, { 'Idempotency-Key': 'has space' });
    expect(badKey.status).toBe(400);
    expect(badKey.body?.error).toContain('Idempotency-Key');
  });
});
