import type { RunningSandbox } from '../../sandbox/server';
import { ListedItem, control, listAll, providerGet, providerJson, startTestSandbox } from './sandboxTestClient';

describe('sandbox control API', () => {
  let sandbox: RunningSandbox;
  beforeEach(async () => {
    sandbox = await startTestSandbox({ recordsPerEntity: 100, seed: 3 });
  });
  afterEach(() => sandbox.close());

  it('bulk-mutates: creates new ids, changes a few fields of live records, deletes others', async () => {
    const before = await control<Record<string, ListedItem[]>>(sandbox, 'GET', 'dump');
    const result = await control<{ created: string[]; updated: string[]; deleted: string[] }>(sandbox, 'POST', 'mutate', { entity: 'customers', create: 2, update: 5, delete: 3 });
    expect(result.created).toEqual(['cus_0000101', 'cus_0000102']);
    expect(result.updated).toHaveLength(5);
    expect(result.deleted).toHaveLength(3);
    expect(new Set([...result.updated, ...result.deleted]).size).toBe(8);

    const after = await control<Record<string, ListedItem[]>>(sandbox, 'GET', 'dump');
    expect(after.customers).toHaveLength(99);
    const afterById = new Map(after.customers.map((record) => [record.id, record]));
    for (const id of result.deleted) expect(afterById.has(id)).toBe(false);
    for (const id of result.updated) {
      const old = before.customers.find((record) => record.id === id)!;
      const changed = afterById.get(id)!;
      expect(changed.updated_at > old.updated_at).toBe(true);
      expect(changed.created_at).toBe(old.created_at);
      expect(changed.email).toBe(old.email);
      expect(changed).not.toEqual(old);
    }
    expect(after.products).toEqual(before.products);

    const changes = await listAll(sandbox, 'customers', { updated_since: '2026-01-01T00:10:00Z' });
    expect(changes.items.map((item) => item.id).sort()).toEqual([...result.created, ...result.updated, ...result.deleted].sort());
  });

  it('rejects a mutation naming an unknown entity, a bad count or more changes than live records', async () => {
    for (const [body, mention] of [
      [{ entity: 'invoices', create: 1 }, "'entity'"],
      [{ entity: 'orders', create: -1 }, "'create'"],
      [{ entity: 'orders', update: 'x' }, "'update'"],
      [{ entity: 'orders', update: 60, delete: 60 }, 'live'],
    ] as const) {
      const response = await fetch(`${sandbox.url}/_sandbox/mutate`, { method: 'POST', body: JSON.stringify(body) });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toContain(mention);
    }
    expect((await control<{ live: Record<string, number> }>(sandbox, 'GET', 'info')).live.orders).toBe(100);
  });

  it('creates, patches and deletes single records', async () => {
    await control(sandbox, 'POST', 'clock', { now: '2026-03-01T08:00:00Z' });
    const created = await control<ListedItem>(sandbox, 'POST', 'records/products', { title: 'Test Lamp', price: 12.5 });
    expect(created).toMatchObject({ id: 'prd_0000101', title: 'Test Lamp', price: 12.5, created_at: '2026-03-01T08:00:00Z', updated_at: '2026-03-01T08:00:00Z' });
    expect(Object.keys(created).at(-1)).toBe('updated_at');
    expect(await providerJson(sandbox, '/v1/products/prd_0000101')).toEqual(created);

    await control(sandbox, 'POST', 'clock', { now: '2026-03-01T08:00:05Z' });
    const patched = await control<ListedItem>(sandbox, 'PATCH', 'records/products/prd_0000101', { price: 14 });
    expect(patched).toEqual({ ...created, price: 14, updated_at: '2026-03-01T08:00:05Z' });

    const deleted = await fetch(`${sandbox.url}/_sandbox/records/products/prd_0000101`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect((await providerGet(sandbox, '/v1/products/prd_0000101')).status).toBe(404);
    expect((await fetch(`${sandbox.url}/_sandbox/records/products/prd_0000101`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${sandbox.url}/_sandbox/records/products/prd_0000101`, { method: 'PATCH', body: '{}' })).status).toBe(404);
  });

  it('refuses to let a caller set id or timestamps, and rejects malformed JSON', async () => {
    const withId = await fetch(`${sandbox.url}/_sandbox/records/orders`, { method: 'POST', body: JSON.stringify({ id: 'ord_1' }) });
    expect(withId.status).toBe(400);
    expect(((await withId.json()) as { error: string }).error).toContain("'id'");
    const malformed = await fetch(`${sandbox.url}/_sandbox/records/orders`, { method: 'POST', body: '{"title":' });
    expect(malformed.status).toBe(400);
    expect((await fetch(`${sandbox.url}/_sandbox/records/invoices`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('freezes the clock so that many mutations land in one second, and unfreezes it', async () => {
    const frozen = await control<{ now: string; frozen: boolean }>(sandbox, 'POST', 'clock', { now: '2026-07-04T10:20:30.900Z' });
    expect(frozen).toMatchObject({ now: '2026-07-04T10:20:30Z', frozen: true });
    await control(sandbox, 'POST', 'mutate', { entity: 'orders', create: 10, update: 20 });
    const changed = await listAll(sandbox, 'orders', { updated_since: '2026-07-04T10:20:30Z', limit: '7' });
    expect(changed.items).toHaveLength(30);
    expect(new Set(changed.items.map((item) => item.updated_at))).toEqual(new Set(['2026-07-04T10:20:30Z']));

    const real = await control<{ now: string; frozen: boolean }>(sandbox, 'POST', 'clock', { now: null });
    expect(real.frozen).toBe(false);
    expect(Math.abs(Date.parse(real.now) - Date.now())).toBeLessThan(5000);
    const bad = await fetch(`${sandbox.url}/_sandbox/clock`, { method: 'POST', body: JSON.stringify({ now: 'soon' }) });
    expect(bad.status).toBe(400);
  });

  it('stamps mutations after every seeded record even when the clock is frozen before them', async () => {
    await control(sandbox, 'POST', 'clock', { now: '2025-01-01T00:00:00Z' });
    const record = await control<ListedItem>(sandbox, 'PATCH', 'records/customers/cus_0000001', { notes: 'x' });
    // 100 seeded records at 25 per second end at 00:00:03.
    expect(record.updated_at).toBe('2026-01-01T00:00:04Z');
  });

  it('re-seeds with new counts and seed, and resets to the start options', async () => {
    const original = await providerGet(sandbox, '/v1/customers?limit=5').then((r) => r.text());
    const reseeded = await control<{ recordsPerEntity: number; seed: number }>(sandbox, 'POST', 'seed', { records: 40, seed: 11 });
    expect(reseeded).toMatchObject({ recordsPerEntity: 40, seed: 11 });
    const page = await providerJson<{ total: number }>(sandbox, '/v1/customers?limit=5');
    expect(page.total).toBe(40);

    await control(sandbox, 'POST', 'mutate', { entity: 'customers', delete: 5 });
    await control(sandbox, 'POST', 'faults', { error5xxRate: 1 });
    await control(sandbox, 'POST', 'clock', { now: '2026-08-01T00:00:00Z' });
    await control(sandbox, 'POST', 'reset');

    expect(await control(sandbox, 'GET', 'faults')).toMatchObject({ error5xxRate: 0 });
    expect(await control(sandbox, 'GET', 'clock')).toMatchObject({ frozen: false });
    expect(await control(sandbox, 'GET', 'stats')).toMatchObject({ total: 0 });
    expect(await providerGet(sandbox, '/v1/customers?limit=5').then((r) => r.text())).toBe(original);
  });

  it('counts provider requests by path kind and status', async () => {
    await providerGet(sandbox, '/v1/orders').then((r) => r.arrayBuffer());
    await providerGet(sandbox, '/v1/orders/ord_0000001').then((r) => r.arrayBuffer());
    await providerGet(sandbox, '/v1/orders/ord_0009999').then((r) => r.arrayBuffer());
    await providerGet(sandbox, '/v1/orders', null).then((r) => r.arrayBuffer());
    await providerGet(sandbox, '/v1').then((r) => r.arrayBuffer());
    const stats = await control(sandbox, 'GET', 'stats');
    expect(stats).toMatchObject({
      total: 5,
      byKind: { list: { '200': 1, '401': 1 }, record: { '200': 1, '404': 1 }, unknown: { '404': 1 } },
      byStatus: { '200': 2, '401': 1, '404': 2 },
    });
  });

  it('answers 404 for an unknown control endpoint', async () => {
    expect((await fetch(`${sandbox.url}/_sandbox/nothing`)).status).toBe(404);
  });
});
