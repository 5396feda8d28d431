import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Harness } from '../support/harness';

/**
 * Providers that page, stamp and answer in ways the sandbox never does, served by a small REST
 * provider on loopback and synced through the whole stack (admin API, queue, step runner, store):
 * numeric cursors, listings that end short of their total, cursors that never advance, records
 * stamped in the future, ids JSON cannot hold, and a create answered without an id.
 */
type Reply = { status: number; body?: unknown };
type Handler = (req: IncomingMessage, url: URL, body: string) => Reply;

let server: Server;
let baseUrl = '';
let handler: Handler = () => ({ status: 404, body: { error: 'no handler' } });
const requests: string[] = [];

const stamp = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const people = (n: number): Array<Record<string, unknown>> =>
  Array.from({ length: n }, (_, i) => ({ id: `c${i}`, name: `Person ${i}`, updated_at: '2026-01-01T00:00:00Z' }));

/** An offset-paged list (cursor = offset), its next cursor a string or a number, with a total. */
function offsetList(records: Array<Record<string, unknown>>, numeric: boolean, total = records.length): Handler {
  return (_req, url) => {
    const limit = Number(url.searchParams.get('limit') ?? 10);
    const start = Number(url.searchParams.get('cursor') ?? 0);
    const next = start + limit < records.length ? start + limit : null;
    return { status: 200, body: { data: records.slice(start, start + limit), next_cursor: next === null ? null : numeric ? next : String(next), total } };
  };
}

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      requests.push(`${req.method} ${req.url}`);
      const reply = handler(req, new URL(req.url!, 'http://provider'), raw);
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
  server.closeAllConnections();
});

describe('sync against providers with awkward paging and answers', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 1 }, engine: { maxEmptyPages: 5, retry: { maxAttempts: 3 } } });
  });
  afterAll(async () => h?.close());
  beforeEach(() => {
    requests.length = 0;
  });

  async function connect(id: string, direction: 'pull' | 'both' = 'pull'): Promise<void> {
    const created = await h.api('POST', '/api/connections', {
      id, provider: 'sandbox', config: { baseUrl, pageSize: 10 }, credentials: { type: 'apiKey', apiKey: 'paging-edges-api-key' }, entities: [{ name: 'customers', direction }],
    });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  }

  it('follows a numeric next cursor to the end of a full listing, so the sweep deletes nothing', async () => {
    await connect('numeric');
    const records = people(30);
    handler = offsetList(records, false);
    expect((await h.waitForRun(await h.startSync('full', 'numeric'))).state).toBe('done');
    handler = offsetList(records, true); // a provider whose page token is a number ("next_page": 2)
    const run = await h.waitForRun(await h.startSync('full', 'numeric'));
    expect(run.state).toBe('done');
    expect(run.counters).toMatchObject({ fetched: 30, deleted: 0 });
    expect((await h.liveRecords('customers', 'numeric')).size).toBe(30);
  });

  it('fails a full run whose listing ends short of the total the provider reported, and sweeps nothing', async () => {
    await connect('short');
    const records = people(30);
    handler = offsetList(records, false);
    expect((await h.waitForRun(await h.startSync('full', 'short'))).state).toBe('done');
    // The provider now loses its place after the first page but still reports all 30.
    handler = (req, url) => ({ ...offsetList(records, false)(req, url, ''), body: { data: records.slice(0, 10), next_cursor: null, total: 30 } });
    const run = await h.waitForRun(await h.startSync('full', 'short'));
    expect(run.state).toBe('failed');
    expect(run.lastError).toMatch(/ended after 10 record\(s\) but it reported a total of 30/);
    expect(run.counters.deleted).toBe(0);
    expect((await h.liveRecords('customers', 'short')).size).toBe(30);
  });

  it('fails a full run whose next cursor is neither a string nor a number, and sweeps nothing', async () => {
    await connect('objcursor');
    const records = people(20);
    handler = offsetList(records, false);
    expect((await h.waitForRun(await h.startSync('full', 'objcursor'))).state).toBe('done');
    handler = () => ({ status: 200, body: { data: records.slice(0, 10), next_cursor: { page: 2 }, total: 20 } });
    const run = await h.waitForRun(await h.startSync('full', 'objcursor'));
    expect(run.state).toBe('failed');
    expect(run.lastError).toMatch(/neither a string nor a number/);
    expect((await h.liveRecords('customers', 'objcursor')).size).toBe(20);
  });

  it('fails a run whose provider answers with the cursor it was asked for, instead of listing forever', async () => {
    await connect('samecursor');
    handler = () => ({ status: 200, body: { data: [], next_cursor: 'same-cursor' } });
    const run = await h.waitForRun(await h.startSync('full', 'samecursor'), 10_000);
    expect(run.state).toBe('failed');
    expect(run.lastError).toMatch(/next cursor it was asked for \("same-cursor"\)/);
    expect(requests.length).toBeLessThanOrEqual(3); // page 1, page 2 (same cursor), perhaps one read-ahead
  });

  it('fails a run after more than maxEmptyPages empty pages in a row that still name a next cursor', async () => {
    await connect('emptyloop');
    let n = 0;
    handler = () => ({ status: 200, body: { data: [], next_cursor: `cursor-${(n += 1)}` } });
    const run = await h.waitForRun(await h.startSync('full', 'emptyloop'), 10_000);
    expect(run.state).toBe('failed');
    expect(run.lastError).toMatch(/6 pages in a row with no records but a next cursor \(more than maxEmptyPages, 5\)/);
    expect(requests.length).toBeLessThanOrEqual(7);
  });

  it('keeps incremental sync going past a record stamped in the future', async () => {
    await connect('future');
    const records: Array<Record<string, unknown>> = [
      { id: 'a', name: 'a', updated_at: '2026-01-01T00:00:00Z' },
      { id: 'bad-clock', name: 'b', updated_at: '2099-01-01T00:00:00Z' },
    ];
    handler = (_req, url) => {
      const since = url.searchParams.get('updated_since');
      const data = records.filter((r) => !since || Date.parse(r.updated_at as string) >= Date.parse(since));
      return { status: 200, body: { data, next_cursor: null, total: data.length } };
    };
    expect((await h.waitForRun(await h.startSync('full', 'future'))).state).toBe('done');
    records.push({ id: 'new', name: 'n', updated_at: stamp() }); // created at the provider now
    const incremental = await h.waitForRun(await h.startSync('incremental', 'future'));
    expect(incremental.state).toBe('done');
    expect([...(await h.liveRecords('customers', 'future')).keys()].sort()).toEqual(['a', 'bad-clock', 'new']);
    expect(h.telemetryLines.some((line) => line.includes('Records stamped in the future'))).toBe(true);
  });

  it('refuses records whose ids JSON cannot hold (beyond 2^53, objects) instead of storing them under a wrong id', async () => {
    await connect('bigids');
    handler = () => ({
      status: 200,
      body: '{"data":[{"id":9007199254740993,"name":"first","updated_at":"2026-01-01T00:00:00Z"},{"id":9007199254740995,"name":"second","updated_at":"2026-01-01T00:00:00Z"},'
        + '{"id":{"org":1},"name":"object","updated_at":"2026-01-01T00:00:00Z"},{"id":"..","name":"dots","updated_at":"2026-01-01T00:00:00Z"},{"id":42,"name":"small","updated_at":"2026-01-01T00:00:00Z"}],"next_cursor":null}',
    });
    const run = await h.waitForRun(await h.startSync('full', 'bigids'));
    expect(run.state).toBe('partial');
    expect(run.counters).toMatchObject({ fetched: 5, failed: 4, created: 1 });
    expect([...(await h.liveRecords('customers', 'bigids')).keys()]).toEqual(['42']);
    expect(h.telemetryLines.some((line) => line.includes('lose digits'))).toBe(true);
  });

  /**
   * A two-way connection to a provider that answers every create 201 with an empty body (it does
   * make the record), fully synced; returns the provider's records.
   */
  async function bodilessCreates(connectionId: string): Promise<Array<Record<string, unknown>>> {
    await connect(connectionId, 'both');
    const records: Array<Record<string, unknown>> = [{ id: 'c1', name: 'Ada', updated_at: '2026-01-01T00:00:00Z' }];
    handler = (req, url, raw) => {
      if (req.method === 'POST') {
        records.push({ id: `srv${records.length + 1}`, ...JSON.parse(raw), updated_at: stamp() });
        return { status: 201 };
      }
      return offsetList(records, false)(req, url, raw);
    };
    expect((await h.waitForRun(await h.startSync('full', connectionId))).state).toBe('done');
    return records;
  }

  it('parks a create the provider answered 201 with an empty body, and never sends it again', async () => {
    await bodilessCreates('emptycreate');
    const created = await h.api('POST', '/api/connections/emptycreate/records/customers', { name: 'New Person' });
    expect(created.status).toBeLessThan(300);
    const entry = await h.settledOutbox(created.body.pendingPush.outboxId);
    expect(entry.state).toBe('parked');
    expect(entry.lastError).toMatch(/HTTP 201 but SyncBridge cannot tell which record it created/);
    await new Promise((done) => setTimeout(done, 500)); // time for a retry, were one scheduled
    expect(requests.filter((r) => r.startsWith('POST'))).toHaveLength(1);
    expect(await h.platform.records.get({ tenantId: 't1', connectionId: 'emptycreate', entity: 'customers' }, '')).toBeFalsy();
  });

  it('parks a later edit of a create the provider answered 201 with an empty body, instead of creating the record again', async () => {
    const records = await bodilessCreates('emptycreate2');
    const created = await h.api('POST', '/api/connections/emptycreate2/records/customers', { name: 'New Person' });
    expect((await h.settledOutbox(created.body.pendingPush.outboxId)).state).toBe('parked');
    const edited = await h.api('PATCH', `/api/connections/emptycreate2/records/customers/${created.body.externalId}`, { name: 'New Person, edited' });
    expect(edited.status).toBe(202);
    const entry = await h.settledOutbox(edited.body.pendingPush.outboxId);
    expect(entry.state).toBe('parked');
    expect(entry.lastError).toMatch(/An earlier create of this record .* was not sent/);
    expect(requests.filter((r) => r.startsWith('POST'))).toHaveLength(1); // one create reached the provider
    expect(records).toHaveLength(2);
  });
});
