import type { RunningSandbox } from '../../sandbox/server';
import { SANDBOX_ENTITIES } from '../../sandbox/server';
import { ListedItem, control, listAll, providerJson, sortKey, startTestSandbox } from './sandboxTestClient';

describe('sandbox listing pagination', () => {
  let sandbox: RunningSandbox;

  beforeEach(async () => {
    sandbox = await startTestSandbox({ recordsPerEntity: 300 });
  });
  afterEach(() => sandbox.close());

  it('pages through every entity returning each live record exactly once, equal to /dump', async () => {
    const dump = await control<Record<string, ListedItem[]>>(sandbox, 'GET', 'dump');
    expect(Object.keys(dump)).toEqual([...SANDBOX_ENTITIES]);
    for (const entity of SANDBOX_ENTITIES) {
      const { items, pages } = await listAll(sandbox, entity, { limit: '100' });
      expect(pages).toHaveLength(3);
      expect(pages.every((page) => page.total === 300)).toBe(true);
      expect(pages[2].next_cursor).toBeNull();
      const byId = [...items].sort((a, b) => a.id.localeCompare(b.id));
      expect(byId).toEqual(dump[entity]);
      expect(dump[entity]).toHaveLength(300);
    }
  });

  it('serves each record once with limit 7, across cursors that fall inside same-second clusters', async () => {
    await control(sandbox, 'POST', 'clock', { now: '2026-06-01T12:00:00Z' });
    await control(sandbox, 'POST', 'mutate', { entity: 'orders', create: 30, update: 40, delete: 5 });
    const { items, pages } = await listAll(sandbox, 'orders', { limit: '7' });
    const ids = items.map((item) => item.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(325);
    // 25 records share each seeded second, so most page boundaries split a cluster.
    const boundariesInsideSecond = pages.slice(0, -1).filter((page, i) => page.data[6].updated_at === pages[i + 1].data[0].updated_at);
    expect(boundariesInsideSecond.length).toBeGreaterThan(20);
    const keys = items.map(sortKey);
    expect(keys).toEqual([...keys].sort());
    const dump = await control<Record<string, ListedItem[]>>(sandbox, 'GET', 'dump');
    expect([...items].sort((a, b) => a.id.localeCompare(b.id))).toEqual(dump.orders);
  });

  it('treats updated_since as inclusive of the whole second', async () => {
    const all = await listAll(sandbox, 'products', { limit: '1000' });
    const second = all.items[100].updated_at; // shared by 25 records
    const sameSecond = all.items.filter((item) => item.updated_at === second);
    expect(sameSecond.length).toBeGreaterThan(1);
    const since = await listAll(sandbox, 'products', { updated_since: second, limit: '10' });
    expect(since.items.map((item) => item.id)).toEqual(all.items.filter((item) => item.updated_at >= second).map((item) => item.id));
    expect(since.items[0].updated_at).toBe(second);
    expect(since.pages[0].total).toBe(since.items.length);
    // A fractional bound inside a second excludes that second, as >= demands.
    const later = await providerJson<{ data: ListedItem[] }>(sandbox, `/v1/products?updated_since=${second.replace('Z', '.5Z')}&limit=1`);
    expect(later.data[0].updated_at > second).toBe(true);
  });

  it('serves tombstones only to a listing with updated_since', async () => {
    await control(sandbox, 'POST', 'clock', { now: '2026-06-01T12:00:00Z' });
    const deletedId = 'cus_0000010';
    await fetch(`${sandbox.url}/_sandbox/records/customers/${deletedId}`, { method: 'DELETE' });

    const live = await listAll(sandbox, 'customers', { limit: '1000' });
    expect(live.items.some((item) => item.id === deletedId)).toBe(false);
    expect(live.items.some((item) => item.deleted)).toBe(false);
    expect(live.pages[0].total).toBe(299);

    const changes = await listAll(sandbox, 'customers', { updated_since: '2026-06-01T12:00:00Z' });
    expect(changes.items).toEqual([{ id: deletedId, deleted: true, updated_at: '2026-06-01T12:00:00Z' }]);
    expect(changes.pages[0].total).toBe(1);

    const afterDeletion = await listAll(sandbox, 'customers', { updated_since: '2026-06-01T12:00:01Z' });
    expect(afterDeletion.items).toEqual([]);

    const fromStart = await listAll(sandbox, 'customers', { updated_since: '2026-01-01T00:00:00Z', limit: '1000' });
    expect(fromStart.items).toHaveLength(300);
    expect(fromStart.items.at(-1)).toEqual({ id: deletedId, deleted: true, updated_at: '2026-06-01T12:00:00Z' });
  });

  it('still serves a record updated mid-scan, including one the scan had already passed', async () => {
    const seenPatched: ListedItem[] = [];
    const { items } = await listAll(sandbox, 'customers', { limit: '50' }, async (_page, pageNumber) => {
      if (pageNumber === 2) {
        // cus_0000010 was on page 1; cus_0000200 is still ahead of the cursor.
        await control(sandbox, 'PATCH', 'records/customers/cus_0000010', { notes: 'changed behind the cursor' });
        await control(sandbox, 'PATCH', 'records/customers/cus_0000200', { notes: 'changed ahead of the cursor' });
      }
    });
    seenPatched.push(...items.filter((item) => item.id === 'cus_0000010' || item.id === 'cus_0000200'));
    expect(new Set(items.map((item) => item.id)).size).toBe(300);
    expect(seenPatched.map((item) => [item.id, item.notes])).toEqual([
      ['cus_0000010', expect.not.stringMatching('changed')],
      ['cus_0000010', 'changed behind the cursor'],
      ['cus_0000200', 'changed ahead of the cursor'],
    ]);
  });

  it('gets a single record by id and answers 404 for a missing one', async () => {
    const page = await providerJson<{ data: ListedItem[] }>(sandbox, '/v1/payments?limit=3');
    const record = await providerJson<ListedItem>(sandbox, `/v1/payments/${page.data[2].id}`);
    expect(record).toEqual(page.data[2]);
    const missing = await fetch(`${sandbox.url}/v1/payments/pay_0009999`, { headers: { 'X-Api-Key': sandbox.apiKey } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: expect.stringContaining('pay_0009999') });
  });

  it('serves realistic, linked records of about a kilobyte with second-resolution timestamps', async () => {
    const customers = await listAll(sandbox, 'customers', { limit: '1000' });
    const customerIds = new Set(customers.items.map((item) => item.id));
    const orders = await providerJson<{ data: ListedItem[] }>(sandbox, '/v1/orders?limit=100');
    for (const order of orders.data) {
      expect(customerIds.has(order.customer_id as string)).toBe(true);
      expect(Array.isArray(order.line_items)).toBe(true);
    }
    expect(customers.items[0]).toMatchObject({ id: 'cus_0000001', email: expect.stringContaining('@'), address: expect.objectContaining({ city: expect.any(String) }) });
    for (const entity of SANDBOX_ENTITIES) {
      const page = await providerJson<{ data: ListedItem[] }>(sandbox, `/v1/${entity}?limit=100`);
      const averageBytes = page.data.reduce((sum, item) => sum + JSON.stringify(item).length, 0) / page.data.length;
      expect(averageBytes).toBeGreaterThan(600);
      expect(averageBytes).toBeLessThan(1600);
      expect(page.data[0].updated_at).toBe('2026-01-01T00:00:00Z');
      expect(page.data[0].created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
  });
});
