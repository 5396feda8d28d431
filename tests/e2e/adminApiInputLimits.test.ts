import { MAX_ENTITY_NAMES } from '../../shared/core/entityNames';
import { toSyncBridgeError } from '../../shared/platform/azure/cosmos/cosmosErrors';
import { Harness } from '../support/harness';

/**
 * Input the admin API must refuse or survive: repeated entity names (a run that never ended),
 * bodies nested thousands deep (a stack overflow and a 500), and failures on our side whose raw
 * text must not reach the caller.
 */
describe('admin API: entity lists, nesting limits and what a 5xx tells the caller', () => {
  let h: Harness;
  let n = 0;
  const cus = (i: number) => `cus_${String(i).padStart(7, '0')}`;
  const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const exceptions = () => h.telemetryLines.filter((line) => JSON.parse(line).type === 'exception');

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 20 } });
  });
  afterAll(async () => h.close());

  test('a sync request naming an entity twice is a 400 naming it, and starts no run', async () => {
    const before = (await h.api('GET', '/api/connections/shop/syncs')).body.runs.length;
    const repeated = await h.api('POST', '/api/connections/shop/syncs', { mode: 'full', entities: ['customers', 'orders', 'customers'] });
    expect(repeated.status).toBe(400);
    expect(repeated.body.error).toMatchObject({ code: 'validation', message: 'entities: "customers" is named more than once.' });
    const tooMany = await h.api('POST', '/api/connections/shop/syncs', { mode: 'full', entities: Array.from({ length: MAX_ENTITY_NAMES + 1 }, (_, i) => `e${i}`) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.message).toMatch(/^entities: .*at most 100/);
    expect((await h.api('GET', '/api/connections/shop/syncs')).body.runs).toHaveLength(before);
    // Nothing left open: the connection syncs at once.
    expect((await h.waitForRun(await h.startSync('full', 'shop', ['customers']))).state).toBe('done');
  });

  test('creating a connection that names an entity twice, in either form, is a 400 and creates nothing', async () => {
    for (const entities of [['customers', 'customers'], ['customers', { name: 'customers', direction: 'both' }]]) {
      const id = `dup${(n += 1)}`;
      const created = await h.api('POST', '/api/connections', { id, provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, entities, schedule: { enabled: false } });
      expect({ entities, status: created.status }).toEqual({ entities, status: 400 });
      expect(created.body.error).toMatchObject({ code: 'validation', message: 'entities: "customers" is named more than once.' });
      expect((await h.api('GET', `/api/connections/${id}`)).status).toBe(404);
    }
  });

  test('callers that bypass HTTP (CLI, scheduler) meet the same checks in the services', async () => {
    await expect(
      h.services.connections.create({ tenantId: 't1', id: 'dup-direct', provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, entities: ['orders', 'orders'] }),
    ).rejects.toMatchObject({ code: 'validation', message: 'entities: "orders" is named more than once.' });
    const shop = await h.services.connections.getForTenant('t1', 'shop');
    await expect(h.services.runs.startRun({ connection: shop, mode: 'full', entities: ['orders', 'orders'], trigger: 'api' })).rejects.toMatchObject({
      code: 'validation',
      message: 'entities: "orders" is named more than once.',
    });
  });

  test('a connection stored with a repeated entity (before the check existed) still syncs to the end, once per entity', async () => {
    const created = await h.api('POST', '/api/connections', { id: 'stored-dup', provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, credentials: { type: 'apiKey', apiKey: 'sandbox-api-key' }, entities: ['customers'], schedule: { enabled: false } });
    expect(created.status).toBe(201);
    const stored = (await h.platform.connections.get('stored-dup'))!;
    await h.platform.connections.update({ ...stored, entities: [...stored.entities, ...stored.entities] });
    const run = await h.waitForRun(await h.startSync('full', 'stored-dup'), 15_000);
    expect(run.state).toBe('done');
    expect(run.entities.map((e: { entity: string }) => e.entity)).toEqual(['customers']);
  });

  test('a record body or resolve data nested thousands deep is a 400, with no exception in telemetry', async () => {
    const con = await h.twoWayConnection(`deep${(n += 1)}`, { default: { kind: 'manual' } });
    const exceptionsBefore = exceptions().length;
    const deep = `{"name":${nested(6000)}}`;
    const message = /^body: nests deeper than 64 levels/;

    const post = await h.api('POST', `/api/connections/${con}/records/customers`, deep);
    expect([post.status, post.body.error?.code]).toEqual([400, 'validation']);
    expect(post.body.error.message).toMatch(message);
    const patch = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(1)}`, deep);
    expect([patch.status, patch.body.error?.code]).toEqual([400, 'validation']);
    expect(patch.body.error.message).toMatch(message);

    // A real open conflict, so that the resolve would otherwise go ahead.
    await h.sandbox('PATCH', `records/customers/${cus(2)}`, { name: 'Remote' });
    const written = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(2)}`, { name: 'Local' });
    expect((await h.settledOutbox(written.body.pendingPush.outboxId)).state).toBe('parked');
    const conflict = (await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`)).body.conflicts[0];
    const resolve = await h.api('POST', `/api/conflicts/${conflict.id}/resolve`, `{"resolution":"custom","data":{"name":${nested(6000)}}}`);
    expect([resolve.status, resolve.body.error?.code]).toEqual([400, 'validation']);
    expect(resolve.body.error.message).toMatch(message);
    expect((await h.api('GET', `/api/conflicts/${conflict.id}`)).body.state).toBe('open');

    // Nesting within the limit is still taken.
    const within = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(3)}`, `{"tags":${nested(60)}}`);
    expect(within.status).toBe(202);
    expect(exceptions()).toHaveLength(exceptionsBefore);
  });

  test('a change only inside an own "__proto__" member is a change: a new content hash and a push', async () => {
    const con = await h.twoWayConnection(`proto${(n += 1)}`);
    const path = `/api/connections/${con}/records/customers/${cus(4)}`;
    const first = await h.api('PATCH', path, '{"meta":{"z":1,"__proto__":{"x":1}}}');
    expect(first.status).toBe(202);
    await h.settledOutbox(first.body.pendingPush.outboxId);
    const second = await h.api('PATCH', path, '{"meta":{"z":1,"__proto__":{"x":2}}}');
    expect(second.status).toBe(202);
    expect(second.body.metadata.hash).not.toBe(first.body.metadata.hash);
    expect(second.body.pendingPush).not.toBeNull();
  });

  test('a "__proto__" key that validation would drop is a 400 naming it, and nothing is written', async () => {
    const con = await h.twoWayConnection(`protokey${(n += 1)}`);
    const record = `/api/connections/${con}/records/customers/${cus(5)}`;
    const before = (await h.platform.records.get({ tenantId: 't1', connectionId: con, entity: 'customers' }, cus(5)))!;
    const refused: Array<[string, string, string, string]> = [
      ['PATCH', record, '{"name":"Kept?","__proto__":{"name":"lost"}}', 'body.__proto__'],
      ['POST', `/api/connections/${con}/records/customers`, '{"__proto__":{"x":1},"name":"New"}', 'body.__proto__'],
      ['POST', '/api/connections', `{"id":"proto-config","provider":"sandbox","config":{"baseUrl":"${h.sandboxUrl}","__proto__":{"pageSize":5}}}`, 'body.config.__proto__'],
      ['POST', '/api/connections', `{"__proto__":{"displayName":"x"},"id":"proto-top","provider":"sandbox","config":{"baseUrl":"${h.sandboxUrl}"}}`, 'body.__proto__'],
      ['POST', '/api/conflicts/cfl_none/resolve', '{"resolution":"custom","data":{"__proto__":{"name":"x"}}}', 'body.data.__proto__'],
    ];
    for (const [method, path, body, field] of refused) {
      const response = await h.api(method, path, body);
      expect({ path, body, status: response.status, code: response.body.error?.code }).toEqual({ path, body, status: 400, code: 'validation' });
      expect(response.body.error.message).toMatch(new RegExp(`^${field.replace(/\./g, '\\.')}: `));
    }
    expect(await h.platform.records.get({ tenantId: 't1', connectionId: con, entity: 'customers' }, cus(5))).toEqual(before);
    expect((await h.api('GET', `/api/connections/${con}/records?entity=customers&limit=1000`)).body.records).toHaveLength(20);
    for (const id of ['proto-config', 'proto-top']) expect((await h.api('GET', `/api/connections/${id}`)).status).toBe(404);

    // "constructor" and "prototype" are ordinary keys that validation keeps: they are stored.
    const plain = await h.api('PATCH', record, '{"constructor":"c","prototype":{"p":1}}');
    expect(plain.status).toBe(202);
    expect(plain.body.data).toMatchObject({ constructor: 'c', prototype: { p: 1 } });
  });

  test('a failure on our side (5xx) answers its code and a generic message with the trace id; the raw text goes only to telemetry', async () => {
    const store = h.platform.connections;
    const originalGet = store.get.bind(store);
    // A network failure as the Cosmos DB store reports it (the real mapping, cosmosErrors.ts).
    const raw = 'connect ECONNREFUSED 10.20.30.40:443 (https://syncbridge-prod.documents.azure.com/dbs/syncbridge)';
    (store as { get: typeof store.get }).get = async () => {
      throw toSyncBridgeError(new Error(raw), 'Reading connection shop');
    };
    let response;
    try {
      response = await h.api('GET', '/api/connections/shop');
    } finally {
      (store as { get: typeof store.get }).get = originalGet;
    }
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('transient');
    expect(JSON.stringify(response.body)).not.toMatch(/ECONNREFUSED|10\.20\.30\.40|documents\.azure\.com|Reading connection/);
    expect(response.body.error.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(response.body.error.message).toBe(`A service SyncBridge depends on failed or did not answer in time; try again shortly. It has been logged under trace ${response.body.error.traceId}.`);
    const logged = exceptions().map((line) => JSON.parse(line)).filter((line) => line.traceId === response.body.error.traceId);
    expect(logged).toEqual([expect.objectContaining({ message: expect.stringContaining('ECONNREFUSED 10.20.30.40') })]);
  });
});
