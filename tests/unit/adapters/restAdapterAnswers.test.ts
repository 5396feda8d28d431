import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sandboxProvider } from '../../../shared/adapters/providers/sandbox';
import type { ProviderAdapter } from '../../../shared/adapters/adapter';
import type { Connection } from '../../../shared/core/model';
import { systemClock } from '../../../shared/ports/clock';

/**
 * How the REST adapter reads answers the sandbox never gives, over real HTTP: cursors that are
 * numbers or neither, ids JSON cannot hold, dot-segment ids, and a create answered without an id.
 */
describe('RestAdapter against a provider over HTTP', () => {
  let reply: { status: number; body: string } = { status: 200, body: '{}' };
  const seen: string[] = [];
  let server: Server;
  let adapter: ProviderAdapter;

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(reply.body);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    adapter = sandboxProvider.create({
      connection: { id: 'c1', tenantId: 't1', provider: 'sandbox', config: { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } } as unknown as Connection,
      credentials: { type: 'apiKey', apiKey: 'k' },
      clock: systemClock,
    });
  });
  afterAll(() => server.close());
  beforeEach(() => {
    seen.length = 0;
  });
  const list = () => adapter.listPage({ entity: 'customers', since: null, cursor: null, limit: 10 });

  it('reads a numeric next cursor as a cursor, and refuses one that is neither a string nor a number', async () => {
    reply = { status: 200, body: '{"data":[{"id":"a"}],"next_cursor":2,"total":500}' };
    expect(await list()).toMatchObject({ nextCursor: '2', total: 500 });
    reply = { status: 200, body: '{"data":[],"next_cursor":""}' };
    expect((await list()).nextCursor).toBeNull();
    reply = { status: 200, body: '{"data":[{"id":"a"}],"next_cursor":{"page":2}}' };
    await expect(list()).rejects.toMatchObject({ code: 'transient', message: expect.stringMatching(/neither a string nor a number/) });
  });

  it('marks records whose id JSON rounded, or is an object, or a dot segment, as invalid instead of storing them under a wrong id', async () => {
    reply = {
      status: 200,
      body: '{"data":[{"id":9007199254740993},{"id":9007199254740991},{"id":{"org":1}},{"id":[1,2]},{"id":".."},{"id":"ok"}],"next_cursor":null}',
    };
    const records = (await list()).records;
    expect(records.map((r) => [r.externalId, r.invalid === undefined])).toEqual([
      ['', false], ['9007199254740991', true], ['', false], ['', false], ['', false], ['ok', true],
    ]);
    expect(records[0].invalid).toMatch(/lose digits/);
    expect(records[2].invalid).toMatch(/is an object, not a string or a number/);
    expect(records[3].invalid).toMatch(/is an array/);
    expect(records[4].invalid).toMatch(/dot segment/);
  });

  it('refuses to address "." or ".." (URL resolution would name another resource), sending nothing', async () => {
    reply = { status: 200, body: '{"id":"x"}' };
    await expect(adapter.getRecord('customers', '..')).rejects.toMatchObject({ code: 'validation' });
    await expect(adapter.push!({ entity: 'customers', op: 'delete', externalId: '.', data: null, idempotencyKey: 'k1' })).rejects.toMatchObject({ code: 'validation' });
    await expect(adapter.push!({ entity: 'customers', op: 'update', externalId: '..', data: { a: 1 }, idempotencyKey: 'k2' })).rejects.toMatchObject({ code: 'validation' });
    expect(seen).toEqual([]);
  });

  it('fails a create answered 201 without an id as provider_rejected carrying the success status (parked, never retried)', async () => {
    for (const body of ['', '{"name":"no id"}']) {
      reply = { status: 201, body };
      await expect(adapter.push!({ entity: 'customers', op: 'create', externalId: null, data: { a: 1 }, idempotencyKey: 'k3' }))
        .rejects.toMatchObject({ code: 'provider_rejected', status: 201, message: expect.stringMatching(/cannot tell which record it created/) });
    }
    reply = { status: 201, body: '{"id":"new1","updated_at":"2026-01-01T00:00:00Z"}' };
    expect(await adapter.push!({ entity: 'customers', op: 'create', externalId: null, data: { a: 1 }, idempotencyKey: 'k4' })).toMatchObject({ record: { externalId: 'new1' } });
  });
});
