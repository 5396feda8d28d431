import { twoWayFor } from '../../shared/core/outbound/registry';
import { Harness } from '../support/harness';

/**
 * How a provider's refusal of a push is classified, on the real stack: the admin API writes, the
 * outbound worker pushes to the sandbox over HTTP, and the sandbox refuses the write with the
 * status under test (its `rejectWrites` fault: the next write(s) only, nothing written). Each
 * refusal that needs a person parks a conflict after one attempt, without retries; resolving it
 * through the admin API pushes again, and that push reaches the sandbox.
 */
describe('two-way sync: a provider refusing a push becomes the conflict a person expects', () => {
  let h: Harness;
  let connections = 0;
  const cus = (n: number) => `cus_${String(n).padStart(7, '0')}`;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 40 } });
    twoWayFor(h.services, { retry: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 3 }, random: () => 0.5 });
  });
  afterAll(async () => h.close());
  afterEach(async () => {
    await h.sandbox('POST', 'faults', {});
  });

  async function connection(): Promise<string> {
    return h.twoWayConnection(`rej${(connections += 1)}`);
  }

  const settled = (outboxId: string) => h.settledOutbox(outboxId);

  async function openConflicts(con: string) {
    return (await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`)).body.conflicts;
  }

  const writes = async () => (await h.sandbox('GET', 'stats')).byKind.write as Record<string, number>;
  const remote = async (n: number) => h.sandbox('GET', `records/customers/${cus(n)}`);

  /** The sandbox refuses the next write with `status`; the local PATCH's push meets it. */
  async function refusedPatch(con: string, n: number, status: number, fields: Record<string, unknown>) {
    await h.sandbox('POST', 'faults', { rejectWrites: { status } });
    const written = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(n)}`, fields);
    expect(written.status).toBe(202);
    return { entry: await settled(written.body.pendingPush.outboxId), conflicts: await openConflicts(con) };
  }

  test.each([
    [400, 11],
    [413, 12],
    [415, 13],
    [422, 14],
  ])('a %i is a parked validation_error with the provider\'s message, never retried; resolving it pushes again', async (status, n) => {
    const con = await connection();
    const before = await writes();
    const { entry, conflicts } = await refusedPatch(con, n, status, { name: `Refused ${status}` });
    expect(entry).toMatchObject({ state: 'parked', attempts: 1 });
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({ kind: 'validation_error', outboxId: entry.id, externalId: cus(n), fields: ['name'] });
    expect(conflicts[0].reason).toContain(`HTTP ${status}`);
    expect(conflicts[0].reason).toContain('Injected fault: the provider refused the PATCH');
    expect(JSON.stringify(conflicts[0])).not.toContain('sandbox-api-key');
    // One write request, refused: no retry went out.
    expect((await writes())[String(status)] - (before[String(status)] ?? 0)).toBe(1);
    expect((await remote(n)).name).not.toBe(`Refused ${status}`);

    const resolved = await h.api('POST', `/api/conflicts/${conflicts[0].id}/resolve`, { resolution: 'custom', data: { name: `Fixed ${status}` } });
    expect(resolved.status).toBe(200);
    expect((await settled(resolved.body.pendingPush.outboxId)).state).toBe('done');
    expect((await remote(n)).name).toBe(`Fixed ${status}`);
    expect(await openConflicts(con)).toEqual([]);
  });

  test('a 409 is a parked duplicate_key; resolving it as "local" pushes the value again', async () => {
    const con = await connection();
    const { entry, conflicts } = await refusedPatch(con, 15, 409, { name: 'Clashing Name' });
    expect(entry).toMatchObject({ state: 'parked', attempts: 1 });
    expect(conflicts.map((c: { kind: string }) => c.kind)).toEqual(['duplicate_key']);
    expect(conflicts[0].reason).toContain('HTTP 409');

    const resolved = await h.api('POST', `/api/conflicts/${conflicts[0].id}/resolve`, { resolution: 'local' });
    expect((await settled(resolved.body.pendingPush.outboxId)).state).toBe('done');
    expect((await remote(15)).name).toBe('Clashing Name');
  });

  test.each([
    [404, 16],
    [410, 17],
  ])('a %i on an update means the provider no longer has the record: a parked data_mismatch with no remote copy', async (status, n) => {
    const con = await connection();
    const { entry, conflicts } = await refusedPatch(con, n, status, { name: `Gone ${status}` });
    expect(entry).toMatchObject({ state: 'parked', attempts: 1 });
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({ kind: 'data_mismatch', remote: null, fields: ['name'] });
    expect(conflicts[0].reason).toContain(`HTTP ${status}`);

    // The record was there after all (the refusal was injected): "local" updates it in place
    // instead of creating a twin (the re-create reads the provider's copy first).
    const created = (await h.sandbox('GET', 'stats')).writes.created;
    const resolved = await h.api('POST', `/api/conflicts/${conflicts[0].id}/resolve`, { resolution: 'local' });
    expect(resolved.status).toBe(200);
    expect((await settled(resolved.body.pendingPush.outboxId)).state).toBe('done');
    expect((await remote(n)).name).toBe(`Gone ${status}`);
    expect((await h.sandbox('GET', 'stats')).writes.created).toBe(created);
    const local = await h.platform.records.get({ tenantId: 't1', connectionId: con, entity: 'customers' }, cus(n));
    expect(local).toMatchObject({ deleted: false, data: await remote(n) });
    expect(local?.pendingPush ?? null).toBeNull();
  });

  test('a 404 on an update for a record the provider really deleted: "local" creates it again under a new id', async () => {
    const con = await connection();
    const n = 22;
    const { conflicts } = await refusedPatch(con, n, 404, { name: 'Back Again' });
    expect(conflicts[0]).toMatchObject({ kind: 'data_mismatch', remote: null });
    // The 404 was the truth: the record is gone at the provider by the time a person decides.
    await h.sandbox('DELETE', `records/customers/${cus(n)}`);
    const scope = { tenantId: 't1', connectionId: con, entity: 'customers' };
    const email = (await h.platform.records.get(scope, cus(n)))!.data.email;
    const created = (await h.sandbox('GET', 'stats')).writes.created;

    const resolved = await h.api('POST', `/api/conflicts/${conflicts[0].id}/resolve`, { resolution: 'local' });
    expect(resolved.status).toBe(200);
    expect(resolved.body.pendingPush).toMatchObject({ op: 'create' });
    expect((await settled(resolved.body.pendingPush.outboxId)).state).toBe('done');
    expect((await h.sandbox('GET', 'stats')).writes.created - created).toBe(1);
    const twins = (await h.sandbox('GET', 'dump')).customers.filter((c: { email: string }) => c.email === email);
    expect(twins).toHaveLength(1);
    expect(twins[0]).toMatchObject({ name: 'Back Again' });
    expect(twins[0].id).not.toBe(cus(n));
    expect(await h.platform.records.get(scope, twins[0].id)).toMatchObject({ deleted: false, data: twins[0] });
    expect((await h.platform.records.get(scope, cus(n)))?.deleted).toBe(true);
    expect(await openConflicts(con)).toEqual([]);
  });

  test('a 410 on a delete is done, like a 404: the record is gone, which is what the delete wanted', async () => {
    const con = await connection();
    await h.sandbox('POST', 'faults', { rejectWrites: { status: 410 } });
    const removed = await h.api('DELETE', `/api/connections/${con}/records/customers/${cus(18)}`);
    expect((await settled(removed.body.pendingPush.outboxId)).state).toBe('done');
    expect(await openConflicts(con)).toEqual([]);
    expect((await h.platform.records.get({ tenantId: 't1', connectionId: con, entity: 'customers' }, cus(18)))?.deleted).toBe(true);
  });

  test('a 404 on a create is a validation_error (no such collection there); resolving it creates the record', async () => {
    const con = await connection();
    await h.sandbox('POST', 'faults', { rejectWrites: { status: 404 } });
    const created = await h.api('POST', `/api/connections/${con}/records/customers`, { name: 'New Here', email: `new-${con}@example.com` });
    expect(created.status).toBe(202);
    expect(await settled(created.body.pendingPush.outboxId)).toMatchObject({ state: 'parked', attempts: 1 });
    const [conflict] = await openConflicts(con);
    expect(conflict).toMatchObject({ kind: 'validation_error', externalId: created.body.externalId });

    const resolved = await h.api('POST', `/api/conflicts/${conflict.id}/resolve`, { resolution: 'local' });
    expect((await settled(resolved.body.pendingPush.outboxId)).state).toBe('done');
    const dump = await h.sandbox('GET', 'dump');
    expect(dump.customers.filter((c: { email: string }) => c.email === `new-${con}@example.com`)).toHaveLength(1);
  });

  test('a 403 stays an auth_error dead letter, after one attempt; a replay pushes', async () => {
    const con = await connection();
    const { entry, conflicts } = await refusedPatch(con, 19, 403, { name: 'Forbidden Once' });
    expect(entry).toMatchObject({ state: 'dead', attempts: 1 });
    expect(conflicts).toMatchObject([{ kind: 'auth_error', reasonCode: 'provider_auth' }]);
    expect((await h.api('POST', `/api/deadletters/${entry.id}/replay`)).status).toBe(202);
    expect((await settled(entry.id)).state).toBe('done');
    expect((await remote(19)).name).toBe('Forbidden Once');
  });

  test('a read-only provider is a dead letter after one attempt that says so (reason code configuration), and a replay sends it again', async () => {
    // A webhook-only provider takes no pushes, yet a connection may name an entity of it "both".
    const con = `ro${(connections += 1)}`;
    const made = await h.api('POST', '/api/connections', { id: con, provider: 'stripe', config: {}, entities: [{ name: 'customers', direction: 'both' }] });
    expect(made.status).toBe(201);
    const written = await h.api('POST', `/api/connections/${con}/records/customers`, { name: 'Nowhere To Go', email: `${con}@example.com` });
    expect(written.status).toBe(202);
    const entry = await settled(written.body.pendingPush.outboxId);
    expect(entry).toMatchObject({ state: 'dead', attempts: 1 });
    expect(entry.lastError).toMatch(/Provider stripe is read-only/);
    const [conflict] = await openConflicts(con);
    expect(conflict).toMatchObject({ kind: 'retry_exhausted', reasonCode: 'configuration', outboxId: entry.id });
    expect(conflict.reason).toMatch(/^SyncBridge cannot make this push as the connection is set up: Provider stripe is read-only/);
    expect((await h.api('GET', `/api/conflicts/${conflict.id}`)).body).toMatchObject({ reasonCode: 'configuration' });

    const replayed = await h.api('POST', `/api/deadletters/${entry.id}/replay`);
    expect(replayed).toMatchObject({ status: 202, body: { outboxId: entry.id, replays: 1 } });
    expect(await settled(entry.id)).toMatchObject({ state: 'dead', attempts: 1, replays: 1 });
    expect(await openConflicts(con)).toMatchObject([{ id: `${conflict.id}_r1`, kind: 'retry_exhausted', reasonCode: 'configuration' }]);
    expect((await h.api('GET', `/api/conflicts/${conflict.id}`)).body).toMatchObject({ state: 'resolved', resolution: 'replayed' });
  });

  /** A two-way connection whose customers' `name` is merged by the custom rule `rule` (registered first). */
  async function customRuleConnection(rule: string, decide: () => 'local'): Promise<string> {
    h.services.customRules.register(rule, decide);
    return h.twoWayConnection(`rule${(connections += 1)}`, { default: { kind: 'manual' }, fields: { name: { kind: 'custom', name: rule } } });
  }

  /** The provider changes `name` after the sync, then the local PATCH of `name` meets it in the merge. */
  async function bothChangedName(con: string, n: number, local: string) {
    await h.sandbox('PATCH', `records/customers/${cus(n)}`, { name: `Provider ${n}` });
    const written = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(n)}`, { name: local });
    expect(written.status).toBe(202);
    return settled(written.body.pendingPush.outboxId);
  }

  test('an exception nobody classified (a merge rule failing once) is retried with the backoff, not dead-lettered, and the push goes out', async () => {
    let failures = 1;
    const con = await customRuleConnection('lookup-once', () => {
      if (failures > 0) {
        failures -= 1;
        throw new TypeError('Cannot read properties of undefined (reading \'owner\')');
      }
      return 'local';
    });
    const entry = await bothChangedName(con, 23, 'Local After A Fault');
    expect(entry).toMatchObject({ state: 'done', attempts: 2 });
    expect(await openConflicts(con)).toEqual([]);
    expect((await remote(23)).name).toBe('Local After A Fault');
  });

  test('one failing every attempt is a dead letter once the retries run out, saying it was SyncBridge\'s fault (internal_error), its text masked; a replay pushes', async () => {
    const token = 'sk_live_51Hx9c2eZvKYlo2C0aBcDeFgHiJk';
    let broken = true;
    const con = await customRuleConnection('lookup-broken', () => {
      if (broken) throw new Error(`owner lookup failed: GET /owners with Authorization: Bearer ${token} answered nothing`);
      return 'local';
    });
    const before = await writes();
    const entry = await bothChangedName(con, 24, 'Local After The Fix');
    expect(entry).toMatchObject({ state: 'dead', attempts: 3 });
    const [conflict] = await openConflicts(con);
    expect(conflict).toMatchObject({ kind: 'retry_exhausted', reasonCode: 'internal_error', outboxId: entry.id });
    expect(conflict.reason).toMatch(/^A fault in SyncBridge, not the provider's, failed each of 3 attempts: owner lookup failed/);
    for (const text of [conflict.reason, entry.lastError]) {
      expect(text).toContain('Bearer ***');
      expect(text).not.toContain(token);
    }
    expect(await writes()).toEqual(before); // nothing reached the provider

    broken = false;
    expect((await h.api('POST', `/api/deadletters/${entry.id}/replay`)).status).toBe(202);
    expect(await settled(entry.id)).toMatchObject({ state: 'done' });
    expect((await remote(24)).name).toBe('Local After The Fix');
  });

  test('a 429 stays a retry: the push goes out again and succeeds, no conflict', async () => {
    const con = await connection();
    const { entry, conflicts } = await refusedPatch(con, 20, 429, { name: 'After The Limit' });
    expect(entry).toMatchObject({ state: 'done', attempts: 2 });
    expect(conflicts).toEqual([]);
    expect((await remote(20)).name).toBe('After The Limit');
  });

  test('a 412 on the merged push (the remote moved again) is retried, not a dead letter', async () => {
    const con = await connection();
    // The first push's 412 sends the worker to read and merge; the merged push meets the second.
    await h.sandbox('POST', 'faults', { rejectWrites: { status: 412, times: 2 } });
    const written = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(21)}`, { name: 'Merged Twice' });
    expect(await settled(written.body.pendingPush.outboxId)).toMatchObject({ state: 'done', attempts: 2 });
    expect(await openConflicts(con)).toEqual([]);
    expect((await h.sandbox('GET', 'stats')).injected.rejectedWrites).toBeGreaterThanOrEqual(2);
    expect((await remote(21)).name).toBe('Merged Twice');
  });
});
