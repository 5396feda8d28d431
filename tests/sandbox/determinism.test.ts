import type { RunningSandbox } from '../../sandbox/server';
import { SANDBOX_ENTITIES } from '../../sandbox/server';
import { providerGet, startTestSandbox } from './sandboxTestClient';

async function bodyOf(sandbox: RunningSandbox, path: string): Promise<string> {
  const response = await providerGet(sandbox, path);
  expect(response.status).toBe(200);
  return response.text();
}

describe('sandbox determinism', () => {
  const running: RunningSandbox[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((sandbox) => sandbox.close()));
  });
  async function start(seed: number): Promise<RunningSandbox> {
    const sandbox = await startTestSandbox({ seed, recordsPerEntity: 500 });
    running.push(sandbox);
    return sandbox;
  }

  it('serves byte-identical pages from two servers started with the same seed', async () => {
    const [a, b] = await Promise.all([start(7), start(7)]);
    for (const entity of SANDBOX_ENTITIES) {
      const first = await bodyOf(a, `/v1/${entity}?limit=250`);
      expect(await bodyOf(b, `/v1/${entity}?limit=250`)).toBe(first);
      const cursor = (JSON.parse(first) as { next_cursor: string }).next_cursor;
      expect(await bodyOf(b, `/v1/${entity}?limit=250&cursor=${cursor}`)).toBe(await bodyOf(a, `/v1/${entity}?limit=250&cursor=${cursor}`));
    }
  });

  it('serves different data for a different seed, with the same ids and timestamps', async () => {
    const [a, b] = await Promise.all([start(7), start(8)]);
    const pageA = JSON.parse(await bodyOf(a, '/v1/customers?limit=50')) as { data: Array<Record<string, unknown>> };
    const pageB = JSON.parse(await bodyOf(b, '/v1/customers?limit=50')) as { data: Array<Record<string, unknown>> };
    expect(pageA.data.map((r) => [r.id, r.updated_at])).toEqual(pageB.data.map((r) => [r.id, r.updated_at]));
    expect(pageA.data.map((r) => r.email)).not.toEqual(pageB.data.map((r) => r.email));
  });

  it('builds a record the same way whether it is listed, fetched alone or dumped', async () => {
    const [a] = await Promise.all([start(99)]);
    const listed = JSON.parse(await bodyOf(a, '/v1/orders?updated_since=2026-01-01T00:00:10Z&limit=1')) as { data: Array<{ id: string }> };
    const single = await bodyOf(a, `/v1/orders/${listed.data[0].id}`);
    expect(single).toBe(JSON.stringify(listed.data[0]));
  });

  it('picks the same records for the same sequence of bulk mutations', async () => {
    const [a, b] = await Promise.all([start(5), start(5)]);
    const mutate = (sandbox: RunningSandbox) =>
      fetch(`${sandbox.url}/_sandbox/mutate`, { method: 'POST', body: JSON.stringify({ entity: 'inventory', create: 3, update: 10, delete: 4 }) }).then((r) => r.json());
    expect(await mutate(a)).toEqual(await mutate(b));
    expect(await mutate(a)).toEqual(await mutate(b));
  });
});
