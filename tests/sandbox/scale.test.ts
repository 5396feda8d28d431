import type { RunningSandbox } from '../../sandbox/server';
import { SANDBOX_ENTITIES } from '../../sandbox/server';
import { ListingPage, control, listAll, providerJson, startTestSandbox } from './sandboxTestClient';

describe('sandbox at 100,000 records per entity', () => {
  let sandbox: RunningSandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox({ recordsPerEntity: 100_000 });
  });
  afterAll(() => sandbox.close());

  it('serves pages of 1,000 from anywhere in every listing', async () => {
    for (const entity of SANDBOX_ENTITIES) {
      // 25 records per second: second 2000 starts at record index 50,000.
      const page = await providerJson<ListingPage>(sandbox, `/v1/${entity}?updated_since=2026-01-01T00:33:20Z&limit=1000`);
      expect(page.total).toBe(50_000);
      expect(page.data).toHaveLength(1000);
      expect(page.data[0].id).toMatch(/_0050001$/);
      expect(page.data[999].id).toMatch(/_0051000$/);
      const next = await providerJson<ListingPage>(sandbox, `/v1/${entity}?updated_since=2026-01-01T00:33:20Z&limit=1000&cursor=${page.next_cursor}`);
      expect(next.data[0].id).toMatch(/_0051001$/);
    }
    const last = await providerJson<ListingPage>(sandbox, '/v1/payments?updated_since=2026-01-01T01:06:39Z&limit=1000');
    expect(last.data.map((record) => record.id)).toEqual(Array.from({ length: 25 }, (_, i) => `pay_${String(99_976 + i).padStart(7, '0')}`));
    expect(last.next_cursor).toBeNull();
    expect(await providerJson(sandbox, '/v1/payments/pay_0100000')).toEqual(last.data[24]);
  });

  it('pages through a whole entity exactly once, with changes landing at the end', async () => {
    const result = await control<{ created: string[]; updated: string[]; deleted: string[] }>(sandbox, 'POST', 'mutate', { entity: 'inventory', create: 100, update: 500, delete: 200 });
    const { items, pages } = await listAll(sandbox, 'inventory', { limit: '1000' });
    expect(pages[0].total).toBe(99_900);
    expect(items).toHaveLength(99_900);
    expect(new Set(items.map((item) => item.id)).size).toBe(99_900);
    const tail = new Set(items.slice(-600).map((item) => item.id));
    for (const id of [...result.created, ...result.updated]) expect(tail.has(id)).toBe(true);
    const deleted = new Set(result.deleted);
    expect(items.some((item) => deleted.has(item.id))).toBe(false);
  });
});
