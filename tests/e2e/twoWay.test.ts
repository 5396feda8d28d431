import { contentHash } from '../../shared/core/hash';
import type { EntityMergePolicy } from '../../shared/core/merge';
import { twoWayFor } from '../../shared/core/outbound/registry';
import { Harness } from '../support/harness';

/**
 * Two-way sync on the real stack: local host, SQLite, the sandbox over HTTP. Each connection
 * syncs customers both ways, so that a test's policy and records never meet another test's.
 */
describe('two-way sync end to end (admin API → outbox → outbound worker → sandbox)', () => {
  let h: Harness;
  let connections = 0;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 20 } });
    // Short backoff for the retry tests; options count on the first use only.
    // A custom rule registered in code: the two names joined, so the test sees both sides were read.
    // Registered on the composition, so that connections naming it pass validation at save.
    h.services.customRules.register('join-names', (c) => ({ value: `${String(c.remote)} & ${String(c.local)}` }));
    twoWayFor(h.services, { retry: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 3 }, random: () => 0.5 });
  });
  afterAll(async () => h.close());
  afterEach(async () => {
    await h.sandbox('POST', 'faults', { error5xxRate: 0 });
  });

  /** A fresh two-way connection on customers, fully synced. */
  async function connection(mergePolicy?: EntityMergePolicy): Promise<string> {
    return h.twoWayConnection(`two${(connections += 1)}`, mergePolicy);
  }

  /** Id of the n-th seeded customer (the sandbox pads 1-based indexes). */
  const cus = (n: number) => `cus_${String(n).padStart(7, '0')}`;

  async function patch(connectionId: string, externalId: string, fields: Record<string, unknown>) {
    return h.api('PATCH', `/api/connections/${connectionId}/records/customers/${externalId}`, fields);
  }

  const settled = (outboxId: string) => h.settledOutbox(outboxId);

  async function remote(id: string): Promise<Record<string, unknown>> {
    return h.sandbox('GET', `records/customers/${id}`);
  }

  async function local(connectionId: string, externalId: string) {
    return h.platform.records.get({ tenantId: 't1', connectionId, entity: 'customers' }, externalId);
  }

  test('a local edit is pushed and the sandbox has it; the next pull reads it back without an echo', async () => {
    const con = await connection();
    const written = await patch(con, cus(1), { name: 'Edited Locally' });
    expect(written.status).toBe(202);
    expect(written.body.pendingPush).toMatchObject({ op: 'update', version: 2 });
    const entry = await settled(written.body.pendingPush.outboxId);
    expect(entry).toMatchObject({ state: 'done', lastError: null });
    const dump = await h.sandbox('GET', 'dump');
    expect(dump.customers.find((c: { id: string }) => c.id === cus(1)).name).toBe('Edited Locally');
    const stored = await local(con, cus(1));
    expect(stored?.pendingPush ?? null).toBeNull();
    expect(stored?.data).toEqual(await remote(cus(1)));

    const run = await h.waitForRun(await h.startSync('incremental', con));
    expect(run.entities[0].counters).toMatchObject({ updated: 0, failed: 0 });
    expect(await h.platform.outbox.listPending({ connectionId: con, limit: 10 })).toEqual([]);
    expect((await local(con, cus(1)))?.version).toBe(stored?.version);
  });

  test('a PATCH that changes nothing answers 200, also while an earlier change still waits to be pushed', async () => {
    const con = await connection();
    await h.sandbox('POST', 'faults', { error5xxRate: 1 }); // the first change stays unpushed
    const first = await patch(con, cus(4), { name: 'Waiting Edit' });
    expect(first.status).toBe(202);
    const again = await patch(con, cus(4), { name: 'Waiting Edit' });
    expect(again.status).toBe(200);
    expect(again.body.version).toBe(first.body.version);
    expect(again.body.pendingPush).toMatchObject({ outboxId: first.body.pendingPush.outboxId });
  });

  test('a local and a remote edit of different fields merge, and both sides end with both', async () => {
    const con = await connection();
    await h.sandbox('PATCH', `records/customers/${cus(2)}`, { phone: '+33 1 00 00 00 02' });
    const written = await patch(con, cus(2), { name: 'Local Name' });
    expect(await settled(written.body.pendingPush.outboxId)).toMatchObject({ state: 'done' });
    const after = await remote(cus(2));
    expect(after).toMatchObject({ name: 'Local Name', phone: '+33 1 00 00 00 02' });
    expect((await local(con, cus(2)))?.data).toEqual(after);
  });

  test.each([
    ['source-wins', { default: { kind: 'source-wins' } }, 'Remote'],
    ['target-wins', { default: { kind: 'target-wins' } }, 'Local'],
    ['authority of the provider', { default: { kind: 'manual' }, fields: { name: { kind: 'authority', owner: 'remote' } } }, 'Remote'],
    ['latest-timestamp (the local edit is later)', { default: { kind: 'latest-timestamp' } }, 'Local'],
  ] as Array<[string, EntityMergePolicy, 'Local' | 'Remote']>)('the same field changed on both sides under %s', async (name, policy, winner) => {
    const con = await connection(policy);
    const values = { Local: `Local (${name})`, Remote: `Remote (${name})` };
    await h.sandbox('PATCH', `records/customers/${cus(3)}`, { name: values.Remote });
    await new Promise((r) => setTimeout(r, 5)); // the local edit is strictly later
    const written = await patch(con, cus(3), { name: values.Local });
    expect(await settled(written.body.pendingPush.outboxId)).toMatchObject({ state: 'done' });
    expect((await remote(cus(3))).name).toBe(values[winner]);
    expect((await local(con, cus(3)))?.data.name).toBe(values[winner]);
  });

  test('the same field changed on both sides under a custom rule registered in code', async () => {
    const con = await connection({ default: { kind: 'custom', name: 'join-names' } });
    await h.sandbox('PATCH', `records/customers/${cus(10)}`, { name: 'Remote' });
    const written = await patch(con, cus(10), { name: 'Local' });
    expect(await settled(written.body.pendingPush.outboxId)).toMatchObject({ state: 'done' });
    expect((await remote(cus(10))).name).toBe('Remote & Local');
    expect((await local(con, cus(10)))?.data.name).toBe('Remote & Local');
  });

  test('a pull meeting an unpushed local change merges it in, and the push then sends both', async () => {
    const con = await connection();
    const scope = { tenantId: 't1', connectionId: con, entity: 'customers' };
    const current = (await local(con, cus(11)))!;
    const data = { ...current.data, name: 'Local While Pulling' };
    const id = `out_pull_${con}`;
    // The change is committed but not yet pushed (its message is sent below, after the pull).
    await h.platform.outbox.commitLocalChange(
      { ...current, data, hash: contentHash(data), version: current.version + 1, base: current.data, pendingPush: { op: 'update', version: current.version + 1, outboxId: id, since: new Date().toISOString() } },
      { id, ...scope, externalId: cus(11), recordId: current.id, version: current.version + 1, op: 'update', data, changedFields: ['name'], state: 'pending', attempts: 0, createdAt: '', updatedAt: '' },
    );
    await h.sandbox('PATCH', `records/customers/${cus(11)}`, { phone: '+44 20 0000 0011' });
    const run = await h.waitForRun(await h.startSync('incremental', con));
    expect(run.entities[0].counters).toMatchObject({ updated: 1, failed: 0 });
    const merged = (await local(con, cus(11)))!;
    expect(merged.data).toMatchObject({ name: 'Local While Pulling', phone: '+44 20 0000 0011' });
    expect(merged.pendingPush?.outboxId).toBe(id);

    expect(await twoWayFor(h.services).changes.relayPending(con)).toBe(1);
    expect(await settled(id)).toMatchObject({ state: 'done' });
    expect(await remote(cus(11))).toMatchObject({ name: 'Local While Pulling', phone: '+44 20 0000 0011' });
    const again = await h.waitForRun(await h.startSync('incremental', con));
    expect(again.entities[0].counters).toMatchObject({ updated: 0, failed: 0 });
  });

  test('a pull meeting an unpushed change to the same field settles it by the connection\'s policy (source-wins)', async () => {
    const con = await connection({ default: { kind: 'source-wins' } });
    const scope = { tenantId: 't1', connectionId: con, entity: 'customers' };
    const current = (await local(con, cus(12)))!;
    const data = { ...current.data, name: 'Local Name' };
    const id = `out_policy_${con}`;
    await h.platform.outbox.commitLocalChange(
      { ...current, data, hash: contentHash(data), version: current.version + 1, base: current.data, pendingPush: { op: 'update', version: current.version + 1, outboxId: id, since: new Date().toISOString() } },
      { id, ...scope, externalId: cus(12), recordId: current.id, version: current.version + 1, op: 'update', data, changedFields: ['name'], state: 'pending', attempts: 0, createdAt: '', updatedAt: '' },
    );
    await h.sandbox('PATCH', `records/customers/${cus(12)}`, { name: 'Remote Name' });
    const run = await h.waitForRun(await h.startSync('incremental', con));
    expect(run.entities[0].counters.failed).toBe(0);
    // The pull read the policy from config.mergePolicy: the provider (source) wins the field.
    expect((await local(con, cus(12)))!.data.name).toBe('Remote Name');
  });

  test('under a manual policy the change is parked and the sandbox keeps its value', async () => {
    const con = await connection({ default: { kind: 'manual' } });
    await h.sandbox('PATCH', `records/customers/${cus(4)}`, { name: 'Remote' });
    const written = await patch(con, cus(4), { name: 'Local' });
    const entry = await settled(written.body.pendingPush.outboxId);
    expect(entry.state).toBe('parked');
    expect(entry.lastError).toMatch(/name/);
    expect((await remote(cus(4))).name).toBe('Remote');
  });

  test('a push delivered twice at once writes once (the sandbox replays the Idempotency-Key)', async () => {
    const con = await connection();
    const scope = { tenantId: 't1', connectionId: con, entity: 'customers' };
    const current = (await local(con, cus(5)))!;
    const data = { ...current.data, name: 'Twice' };
    const id = `out_dup_${con}`;
    // Committed without a queue message, then handled twice concurrently: two deliveries.
    await h.platform.outbox.commitLocalChange(
      { ...current, data, hash: contentHash(data), version: current.version + 1, base: current.data, pendingPush: { op: 'update', version: current.version + 1, outboxId: id, since: new Date().toISOString() } },
      { id, ...scope, externalId: cus(5), recordId: current.id, version: current.version + 1, op: 'update', data, changedFields: ['name'], state: 'pending', attempts: 0, createdAt: '', updatedAt: '' },
    );
    const before = (await h.sandbox('GET', 'stats')).writes;
    const outbound = twoWayFor(h.services).outbound;
    await Promise.all([outbound.handle({ outboxId: id }), outbound.handle({ outboxId: id })]);
    const after = (await h.sandbox('GET', 'stats')).writes;
    expect(after.updated - before.updated).toBe(1);
    expect(after.idempotentReplays - before.idempotentReplays).toBe(1);
    expect((await remote(cus(5))).name).toBe('Twice');
  });

  test('a change committed before a crash, whose message never went out, is pushed by the relay', async () => {
    const con = await connection();
    const scope = { tenantId: 't1', connectionId: con, entity: 'customers' };
    const current = (await local(con, cus(6)))!;
    const data = { ...current.data, name: 'After The Crash' };
    const id = `out_crash_${con}`;
    await h.platform.outbox.commitLocalChange(
      { ...current, data, hash: contentHash(data), version: current.version + 1, base: current.data, pendingPush: { op: 'update', version: current.version + 1, outboxId: id, since: new Date().toISOString() } },
      { id, ...scope, externalId: cus(6), recordId: current.id, version: current.version + 1, op: 'update', data, changedFields: ['name'], state: 'pending', attempts: 0, createdAt: '', updatedAt: '' },
    );
    expect(await twoWayFor(h.services).changes.relayPending(con)).toBe(1);
    expect(await settled(id)).toMatchObject({ state: 'done' });
    expect((await remote(cus(6))).name).toBe('After The Crash');
  });

  test('a local create gets the provider id; a local delete removes the record in the sandbox', async () => {
    const con = await connection();
    const created = await h.api('POST', `/api/connections/${con}/records/customers`, { name: 'New Person', email: 'new.person@example.com' });
    expect(created.status).toBe(202);
    expect(await settled(created.body.pendingPush.outboxId)).toMatchObject({ state: 'done' });
    const dump = await h.sandbox('GET', 'dump');
    const made = dump.customers.find((c: { email: string }) => c.email === 'new.person@example.com');
    expect(made).toMatchObject({ name: 'New Person' });
    expect((await local(con, made.id))?.data).toEqual(made);
    expect((await local(con, created.body.externalId))?.deleted).toBe(true);

    const removed = await h.api('DELETE', `/api/connections/${con}/records/customers/${made.id}`);
    expect(await settled(removed.body.pendingPush.outboxId)).toMatchObject({ state: 'done' });
    expect((await h.sandbox('GET', 'dump')).customers.some((c: { id: string }) => c.id === made.id)).toBe(false);
  });

  test('a validation error is parked at once, not retried', async () => {
    const con = await connection();
    const before = (await h.sandbox('GET', 'stats')).writes.validationFailed;
    const written = await patch(con, cus(7), { email: 'not-an-email' });
    const entry = await settled(written.body.pendingPush.outboxId);
    expect(entry).toMatchObject({ state: 'parked', attempts: 1 });
    expect(entry.lastError).toMatch(/422/);
    expect((await h.sandbox('GET', 'stats')).writes.validationFailed - before).toBe(1);
  });

  test('5xx answers are retried with backoff until they pass, and dead-letter when retries run out', async () => {
    const con = await connection();
    await h.sandbox('POST', 'faults', { error5xxRate: 1 });
    const dead = await patch(con, cus(8), { name: 'Never Arrives' });
    const entry = await settled(dead.body.pendingPush.outboxId);
    expect(entry).toMatchObject({ state: 'dead', attempts: 3 });
    expect(entry.lastError).toMatch(/Retries exhausted after 3 attempts/);

    const retried = await patch(con, cus(9), { name: 'Arrives Later' });
    await h.waitFor('a first failed attempt', async () => ((await h.platform.outbox.get(retried.body.pendingPush.outboxId))?.attempts ?? 0) >= 1);
    await h.sandbox('POST', 'faults', { error5xxRate: 0 });
    expect(await settled(retried.body.pendingPush.outboxId)).toMatchObject({ state: 'done' });
    expect((await remote(cus(9))).name).toBe('Arrives Later');
  });

  test('bad writes get their status and store nothing', async () => {
    const con = await connection();
    expect((await patch(con, 'nope', { name: 'x' })).status).toBe(404);
    expect((await patch(con, cus(1), {})).status).toBe(400);
    expect((await h.api('PATCH', `/api/connections/${con}/records/orders/${cus(1)}`, { name: 'x' })).status).toBe(404);
    expect((await h.api('PATCH', `/api/connections/shop/records/customers/${cus(1)}`, { name: 'x' })).status).toBe(400); // pull-only
    expect(await h.platform.outbox.listPending({ connectionId: con, limit: 10 })).toEqual([]);
  });

  test('a merge policy is checked when the connection is saved: unknown kinds, entities and custom rules are 400s', async () => {
    const create = (id: string, mergePolicy: unknown) =>
      h.api('POST', '/api/connections', { id, provider: 'sandbox', config: { baseUrl: h.sandboxUrl, mergePolicy }, credentials: { type: 'apiKey', apiKey: 'sandbox-api-key' }, entities: [{ name: 'customers', direction: 'both' }] });
    const unregistered = await create('mp-bad-rule', { customers: { default: { kind: 'custom', name: 'no-such-rule' } } });
    expect(unregistered.status).toBe(400);
    expect(JSON.stringify(unregistered.body)).toContain('config.mergePolicy.customers.default.name');
    const badKind = await create('mp-bad-kind', { customers: { default: { kind: 'newest-wins' } } });
    expect(badKind.status).toBe(400);
    expect(JSON.stringify(badKind.body)).toContain('config.mergePolicy.customers.default.kind');
    const badEntity = await create('mp-bad-entity', { orders: { default: { kind: 'source-wins' } } });
    expect(badEntity.status).toBe(400);
    expect(badEntity.body.error.message).toContain('no entity "orders"');
    expect((await create('mp-good', { customers: { default: { kind: 'manual' }, fields: { name: { kind: 'custom', name: 'join-names' } } } })).status).toBe(201);
  });
});
