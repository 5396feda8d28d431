import type { IncomingMessage } from 'node:http';
import { Harness } from '../support/harness';
import { useScriptedProvider, type ScriptedAnswer } from '../support/scriptedProvider';

/**
 * A create answered `201 Created` with no body names the new record only in its `Location`, which
 * the REST adapter reads back. When that read fails as a retry would fix (here a 503), the create
 * is not parked and not sent again: the Location is the record path of one id, so the record moves
 * to that id with the data pushed, and the next pull brings the provider's full copy. On the real
 * stack: the local host, its queue and outbound worker, and a provider on loopback.
 */
describe('a create whose Location read-back fails transiently (loopback provider → local host)', () => {
  const created = { id: 'cus_77', name: 'New Person', email: 'new.person@example.com', updated_at: '2026-02-03T04:05:06Z', tier: 'gold' };
  const renamed = { ...created, name: 'Renamed', updated_at: '2026-02-03T04:06:00Z' };
  let listed: unknown[] = [];
  /** Answers to GET /v1/customers/cus_77, in order; the last one repeats. */
  let readBacks: ScriptedAnswer[] = [];
  /** The Location the create is answered with. */
  let location = '/v1/customers/cus_77';
  const seen: string[] = [];
  const provider = useScriptedProvider((_n, req: IncomingMessage) => {
    const call = `${req.method} ${req.url!.split('?')[0]}`;
    seen.push(call);
    if (call === 'GET /v1/customers') return { status: 200, body: { data: listed, next_cursor: null } };
    if (call === 'POST /v1/customers') return { status: 201, body: undefined, headers: { location } };
    if (call === `GET ${location}`) return readBacks.length > 1 ? readBacks.shift()! : readBacks[0];
    if (call === 'PATCH /v1/customers/cus_77') return { status: 200, body: renamed };
    return { status: 404, body: { error: 'no such route' } };
  });
  let h: Harness;
  afterEach(async () => h?.close());
  const local = (connectionId: string, externalId: string) => h.platform.records.get({ tenantId: 't1', connectionId, entity: 'customers' }, externalId);

  test('201 + Location, then a 503 on the read-back: one POST in total, the record moved to the provider\'s id; the next GET 200 and pull fill it in', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 1 } });
    listed = [];
    location = '/v1/customers/cus_77';
    readBacks = [{ status: 503, body: { error: 'busy' } }, { status: 200, body: created }];
    const made = await h.api('POST', '/api/connections', {
      id: 'loc', provider: 'sandbox', config: { baseUrl: provider.baseUrl },
      credentials: { type: 'apiKey', apiKey: 'k' }, entities: [{ name: 'customers', direction: 'both' }],
    });
    expect(made.status).toBe(201);
    expect((await h.waitForRun(await h.startSync('full', 'loc'))).state).toBe('done');
    seen.length = 0;

    const posted = await h.api('POST', '/api/connections/loc/records/customers', { name: 'New Person', email: 'new.person@example.com' });
    expect(posted.status).toBe(202);
    const entry = await h.settledOutbox(posted.body.pendingPush.outboxId);
    expect(entry).toMatchObject({ state: 'done', lastError: null });
    expect(seen).toEqual(['POST /v1/customers', 'GET /v1/customers/cus_77']); // one POST; the read-back met the 503
    expect(await local('loc', posted.body.externalId)).toMatchObject({ deleted: true }); // the temporary id is retired
    const moved = await local('loc', 'cus_77');
    expect(moved).toMatchObject({ deleted: false, data: { name: 'New Person', email: 'new.person@example.com' } });
    expect(moved?.pendingPush ?? null).toBeNull(); // agreed: nothing left to push

    // An edit of it reads the provider's copy first (this GET answers 200): the fields only the
    // provider had (id, tier, updated_at) are the provider's changes since the data pushed, the
    // name is ours, so it merges and goes out as an update, with no conflict for a person.
    seen.length = 0;
    const edited = await h.api('PATCH', '/api/connections/loc/records/customers/cus_77', { name: 'Renamed' });
    expect(edited.status).toBe(202);
    expect(await h.settledOutbox(edited.body.pendingPush.outboxId)).toMatchObject({ state: 'done' });
    expect(seen).toEqual(['GET /v1/customers/cus_77', 'PATCH /v1/customers/cus_77']);
    expect(await local('loc', 'cus_77')).toMatchObject({ data: renamed, sourceUpdatedAt: renamed.updated_at });

    // The next pull finds the provider's copy as stored: one POST in all.
    listed = [renamed];
    expect((await h.waitForRun(await h.startSync('full', 'loc'))).state).toBe('done');
    expect(seen.filter((call) => call === 'POST /v1/customers')).toHaveLength(0);
    expect(await local('loc', 'cus_77')).toMatchObject({ data: renamed, deleted: false });
  });

  test('a Location that is not the record path of one id is parked as before, and the POST is not sent again', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 1 } });
    listed = [];
    location = '/v1/jobs/cus_77'; // an address the adapter cannot read an id from (an import job, say)
    readBacks = [{ status: 503, body: { error: 'busy' } }];
    const made = await h.api('POST', '/api/connections', {
      id: 'loc2', provider: 'sandbox', config: { baseUrl: provider.baseUrl },
      credentials: { type: 'apiKey', apiKey: 'k' }, entities: [{ name: 'customers', direction: 'both' }],
    });
    expect(made.status).toBe(201);
    expect((await h.waitForRun(await h.startSync('full', 'loc2'))).state).toBe('done');
    seen.length = 0;

    const posted = await h.api('POST', '/api/connections/loc2/records/customers', { name: 'New Person', email: 'new.person@example.com' });
    const entry = await h.settledOutbox(posted.body.pendingPush.outboxId);
    expect(entry).toMatchObject({ state: 'parked', attempts: 1 });
    expect(entry.lastError).toMatch(/cannot tell which record it created: reading the record its Location names failed: The provider failed GET \/v1\/jobs\/cus_77 with HTTP 503/);
    expect(seen).toEqual(['POST /v1/customers', 'GET /v1/jobs/cus_77']);
    expect(await local('loc2', 'cus_77')).toBeUndefined();
  });
});
