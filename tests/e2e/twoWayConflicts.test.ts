import { randomBytes } from 'node:crypto';
import type { EntityMergePolicy } from '../../shared/core/merge';
import { credentialServiceFor } from '../../shared/core/credentials/registry';
import { twoWayFor } from '../../shared/core/outbound/registry';
import { Harness } from '../support/harness';

/** Conflicts of two-way sync through the admin API, on the real stack with the sandbox. */
describe('two-way sync conflicts (parked, shown side by side, resolved through the API)', () => {
  let h: Harness;
  let connections = 0;
  const cus = (n: number) => `cus_${String(n).padStart(7, '0')}`;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 20 } });
    twoWayFor(h.services, { retry: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 2 }, random: () => 0.5 });
  });
  afterAll(async () => h.close());
  afterEach(async () => {
    await h.sandbox('POST', 'faults', { error5xxRate: 0 });
  });

  async function connection(mergePolicy: EntityMergePolicy = { default: { kind: 'manual' } }): Promise<string> {
    return h.twoWayConnection(`cfl${(connections += 1)}`, mergePolicy);
  }

  const settled = (outboxId: string) => h.settledOutbox(outboxId);

  /** Both sides change `name` of one customer; under the manual policy the push parks. */
  async function parkedConflict(con: string, n: number) {
    await h.sandbox('PATCH', `records/customers/${cus(n)}`, { name: `Remote ${con}` });
    const written = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(n)}`, { name: `Local ${con}` });
    expect((await settled(written.body.pendingPush.outboxId)).state).toBe('parked');
    const open = await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`);
    expect(open.status).toBe(200);
    expect(open.body.conflicts).toHaveLength(1);
    return open.body.conflicts[0];
  }

  const remoteName = async (n: number) => (await h.sandbox('GET', `records/customers/${cus(n)}`)).name;

  test('a manual conflict shows base, local and remote side by side, and "local" reaches the sandbox', async () => {
    const con = await connection();
    const conflict = await parkedConflict(con, 1);
    expect(conflict).toMatchObject({ kind: 'data_mismatch', state: 'open', externalId: cus(1), fields: ['name'] });
    const opened = h.telemetryLines.map((l) => JSON.parse(l)).filter((l) => l.type === 'metric' && l.name === 'ConflictsOpened' && l.properties?.connectionId === con);
    expect(opened.map((l) => [l.value, l.properties.kind])).toEqual([[1, 'data_mismatch']]);
    const detail = await h.api('GET', `/api/conflicts/${conflict.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.sideBySide).toEqual([{ field: 'name', base: expect.any(String), local: `Local ${con}`, remote: `Remote ${con}` }]);
    expect(detail.body.sideBySide[0].base).not.toMatch(/Local|Remote/);

    const resolved = await h.api('POST', `/api/conflicts/${conflict.id}/resolve`, { resolution: 'local' });
    expect(resolved.status).toBe(200);
    expect(resolved.body.conflict).toMatchObject({ state: 'resolved', resolution: 'local' });
    expect((await settled(resolved.body.pendingPush.outboxId)).state).toBe('done');
    expect(await remoteName(1)).toBe(`Local ${con}`);
    expect((await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`)).body.conflicts).toEqual([]);
    expect((await h.api('POST', `/api/conflicts/${conflict.id}/resolve`, { resolution: 'local' })).status).toBe(409);
  });

  test('"custom" pushes the given value; "remote" keeps the provider\'s and pushes nothing', async () => {
    const con = await connection();
    const first = await parkedConflict(con, 2);
    const custom = await h.api('POST', `/api/conflicts/${first.id}/resolve`, { resolution: 'custom', data: { name: 'Agreed Name' } });
    expect(custom.status).toBe(200);
    expect((await settled(custom.body.pendingPush.outboxId)).state).toBe('done');
    expect(await remoteName(2)).toBe('Agreed Name');

    const second = await parkedConflict(con, 3);
    const writesBefore = (await h.sandbox('GET', 'stats')).writes.updated;
    const remote = await h.api('POST', `/api/conflicts/${second.id}/resolve`, { resolution: 'remote' });
    expect(remote.body.pendingPush).toBeNull();
    expect(await remoteName(3)).toBe(`Remote ${con}`);
    const local = await h.platform.records.get({ tenantId: 't1', connectionId: con, entity: 'customers' }, cus(3));
    expect(local?.data.name).toBe(`Remote ${con}`);
    expect((await h.sandbox('GET', 'stats')).writes.updated).toBe(writesBefore);
  });

  test('a refused value is a validation_error, a taken one a duplicate_key; a custom fix goes through', async () => {
    const con = await connection();
    const bad = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(4)}`, { email: 'not-an-email' });
    expect((await settled(bad.body.pendingPush.outboxId)).state).toBe('parked');
    const taken = (await h.sandbox('GET', `records/customers/${cus(5)}`)).email;
    const dup = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(6)}`, { email: taken });
    expect((await settled(dup.body.pendingPush.outboxId)).state).toBe('parked');
    const open = (await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`)).body.conflicts;
    expect(open.map((c: { kind: string; externalId: string }) => [c.kind, c.externalId])).toEqual([
      ['validation_error', cus(4)],
      ['duplicate_key', cus(6)],
    ]);
    const fixed = await h.api('POST', `/api/conflicts/${open[0].id}/resolve`, { resolution: 'custom', data: { email: 'fixed@example.com' } });
    expect((await settled(fixed.body.pendingPush.outboxId)).state).toBe('done');
    expect((await h.sandbox('GET', `records/customers/${cus(4)}`)).email).toBe('fixed@example.com');
  });

  test('exhausted retries dead-letter with the reason; a replay pushes once the provider is back', async () => {
    const con = await connection();
    await h.sandbox('POST', 'faults', { error5xxRate: 1 });
    const written = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(7)}`, { name: 'Replayed' });
    const dead = await settled(written.body.pendingPush.outboxId);
    expect(dead).toMatchObject({ state: 'dead' });
    const [conflict] = (await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`)).body.conflicts;
    expect(conflict).toMatchObject({ kind: 'retry_exhausted', outboxId: dead.id });
    expect(conflict.reason).toMatch(/Retries exhausted after 2 attempts/);
    expect((await h.api('POST', `/api/conflicts/${conflict.id}/resolve`, { resolution: 'local' })).status).toBe(400);

    await h.sandbox('POST', 'faults', { error5xxRate: 0 });
    const replay = await h.api('POST', `/api/deadletters/${dead.id}/replay`);
    expect(replay.status).toBe(202);
    expect((await settled(dead.id)).state).toBe('done');
    expect(await remoteName(7)).toBe('Replayed');
    expect((await h.api('GET', `/api/conflicts/${conflict.id}`)).body).toMatchObject({ state: 'resolved', resolution: 'replayed' });
    expect((await h.api('POST', `/api/deadletters/${dead.id}/replay`)).status).toBe(409);
  });

  test('refused credentials are an auth_error dead letter, never retried; replay after the fix pushes', async () => {
    const con = await connection();
    const connectionDoc = (await h.platform.connections.get(con))!;
    await credentialServiceFor(h.platform).store(connectionDoc, { type: 'apiKey', apiKey: 'wrong-key-for-the-test' });
    const before = (await h.sandbox('GET', 'stats')).byStatus['401'] ?? 0;
    const written = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(8)}`, { name: 'After Reauth' });
    const dead = await settled(written.body.pendingPush.outboxId);
    expect(dead.state).toBe('dead');
    expect((await h.sandbox('GET', 'stats')).byStatus['401'] - before).toBe(1);
    const [conflict] = (await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`)).body.conflicts;
    expect(conflict).toMatchObject({ kind: 'auth_error', outboxId: dead.id });
    expect(JSON.stringify(conflict)).not.toContain('wrong-key-for-the-test');

    await credentialServiceFor(h.platform).store(connectionDoc, { type: 'apiKey', apiKey: 'sandbox-api-key' });
    expect((await h.api('POST', `/api/deadletters/${dead.id}/replay`)).status).toBe(202);
    expect((await settled(dead.id)).state).toBe('done');
    expect(await remoteName(8)).toBe('After Reauth');
  });

  test('a record deleted here but changed there is a conflict: "remote" keeps it, "local" deletes it there', async () => {
    const con = await connection();
    const scope = { tenantId: 't1', connectionId: con, entity: 'customers' };
    const conflicts = [];
    for (const n of [12, 13]) {
      await h.sandbox('PATCH', `records/customers/${cus(n)}`, { name: `Changed There ${n}` });
      const removed = await h.api('DELETE', `/api/connections/${con}/records/customers/${cus(n)}`);
      expect(removed.status).toBe(202);
      expect((await settled(removed.body.pendingPush.outboxId)).state).toBe('parked');
    }
    conflicts.push(...(await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`)).body.conflicts);
    expect(conflicts.map((c) => [c.kind, c.externalId, c.local])).toEqual([
      ['data_mismatch', cus(12), null],
      ['data_mismatch', cus(13), null],
    ]);
    expect((await h.api('POST', `/api/conflicts/${conflicts[0].id}/resolve`, { resolution: 'custom', data: { name: 'x' } })).status).toBe(400);

    await h.api('POST', `/api/conflicts/${conflicts[0].id}/resolve`, { resolution: 'remote' });
    const kept = await h.platform.records.get(scope, cus(12));
    expect(kept).toMatchObject({ deleted: false, data: { name: 'Changed There 12' } });
    expect(await remoteName(12)).toBe('Changed There 12');

    const local = await h.api('POST', `/api/conflicts/${conflicts[1].id}/resolve`, { resolution: 'local' });
    expect((await settled(local.body.pendingPush.outboxId)).state).toBe('done');
    expect((await h.sandbox('GET', 'dump')).customers.some((c: { id: string }) => c.id === cus(13))).toBe(false);
    expect((await h.platform.records.get(scope, cus(13)))?.deleted).toBe(true);
  });

  test('statistics per connection and kind; bad requests get their status', async () => {
    const stats = await h.api('GET', '/api/conflicts/stats');
    expect(stats.status).toBe(200);
    expect(stats.body.stats).toEqual(
      expect.arrayContaining([
        { connectionId: 'cfl1', kind: 'data_mismatch', open: 0, resolved: 1 },
        { connectionId: 'cfl3', kind: 'duplicate_key', open: 1, resolved: 0 },
        { connectionId: 'cfl3', kind: 'validation_error', open: 0, resolved: 1 },
        { connectionId: 'cfl4', kind: 'retry_exhausted', open: 0, resolved: 1 },
      ]),
    );
    expect((await h.api('GET', '/api/conflicts/cfl_nope')).status).toBe(404);
    expect((await h.api('POST', '/api/conflicts/cfl_nope/resolve', { resolution: 'sideways' })).status).toBe(400);
    expect((await h.api('POST', '/api/conflicts/cfl_nope/resolve', { resolution: 'local' })).status).toBe(404);
    expect((await h.api('POST', '/api/deadletters/out_nope/replay')).status).toBe(404);
    expect((await h.api('GET', '/api/conflicts?state=maybe')).status).toBe(400);
    const { key } = await h.services.tenants.issueApiKey('t1', 'viewer', 'read only');
    expect((await h.api('POST', '/api/conflicts/cfl_nope/resolve', { resolution: 'local' }, key)).status).toBe(403);
    expect((await h.api('GET', '/api/conflicts', undefined, key)).status).toBe(200);
  });

  describe('a record the provider deleted while it had a local change', () => {
    const scopeOf = (con: string) => ({ tenantId: 't1', connectionId: con, entity: 'customers' });

    /** The sandbox deletes customer n, then a local edit's push finds it gone: a data_mismatch with no remote copy. */
    async function goneConflict(con: string, n: number, fields: Record<string, unknown>) {
      await h.sandbox('DELETE', `records/customers/${cus(n)}`);
      const written = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(n)}`, fields);
      expect((await settled(written.body.pendingPush.outboxId)).state).toBe('parked');
      const open = (await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`)).body.conflicts;
      expect(open).toHaveLength(1);
      expect(open[0]).toMatchObject({ kind: 'data_mismatch', externalId: cus(n), remote: null });
      return open[0];
    }

    /** The connection's customers as the records API lists them (tombstones included), by external id. */
    async function listed(con: string): Promise<Map<string, { externalId: string; data: Record<string, unknown>; metadata: { deleted: boolean } }>> {
      const page = await h.api('GET', `/api/connections/${con}/records?entity=customers&limit=1000`);
      expect(page.status).toBe(200);
      return new Map(page.body.records.map((r: { externalId: string }) => [r.externalId, r]));
    }

    /** Live sandbox customers with this email (the re-created record carries the local one). */
    async function sandboxCustomersWith(email: unknown) {
      return (await h.sandbox('GET', 'dump')).customers.filter((c: { email: string }) => c.email === email);
    }

    /**
     * After a "local" or "custom" resolution: the sandbox holds one new record with `expected`,
     * the local record moved to its id, the old id is a tombstone, the conflict is resolved, and a
     * full sync afterwards changes nothing of that.
     */
    async function expectRecreated(con: string, n: number, conflictId: string, resolution: string, expected: Record<string, unknown>) {
      const email = (await h.platform.records.get(scopeOf(con), cus(n)))!.data.email;
      const twins = await sandboxCustomersWith(email);
      expect(twins).toHaveLength(1);
      const [created] = twins;
      expect(created.id).not.toBe(cus(n));
      expect(created).toMatchObject(expected);
      for (const round of ['after the push', 'after a full sync']) {
        const records = await listed(con);
        expect([round, records.get(created.id)]).toEqual([round, expect.objectContaining({ data: created, metadata: expect.objectContaining({ deleted: false }) })]);
        expect([round, records.get(cus(n))?.metadata.deleted]).toEqual([round, true]);
        expect((await h.platform.records.get(scopeOf(con), created.id))?.pendingPush ?? null).toBeNull();
        expect((await h.api('GET', `/api/conflicts/${conflictId}`)).body).toMatchObject({ state: 'resolved', resolution });
        expect((await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`)).body.conflicts).toEqual([]);
        if (round === 'after the push') expect((await h.waitForRun(await h.startSync('full', con))).state).toBe('done');
      }
      expect(await sandboxCustomersWith(email)).toHaveLength(1);
    }

    test('"local" creates it again with the local data under a new id, once even when the push is delivered twice', async () => {
      const con = await connection();
      const conflict = await goneConflict(con, 14, { name: 'Kept Here' });
      const before = (await h.sandbox('GET', 'stats')).writes;
      // Slow provider answers keep the worker's push in flight while a second delivery of the same
      // message (a relay's re-send) runs beside it: both send the create, with one Idempotency-Key.
      await h.sandbox('POST', 'faults', { slowMs: 300 });
      const resolved = await h.api('POST', `/api/conflicts/${conflict.id}/resolve`, { resolution: 'local' });
      expect(resolved.status).toBe(200);
      expect(resolved.body.conflict).toMatchObject({ state: 'resolved', resolution: 'local' });
      expect(resolved.body.pendingPush).toMatchObject({ op: 'create' });
      const outboxId = resolved.body.pendingPush.outboxId;
      const [again, entry] = await Promise.all([twoWayFor(h.services).outbound.handle({ outboxId }), settled(outboxId)]);
      expect(['pushed', 'skipped']).toContain(again);
      expect(entry.state).toBe('done');
      await h.sandbox('POST', 'faults', {});
      const after = (await h.sandbox('GET', 'stats')).writes;
      expect(after.created - before.created).toBe(1);
      expect(after.idempotentReplays - before.idempotentReplays).toBe(1);
      await expectRecreated(con, 14, conflict.id, 'local', { name: 'Kept Here' });
    });

    test('"custom" creates it again with the custom values on top of the local data', async () => {
      const con = await connection();
      const conflict = await goneConflict(con, 15, { name: 'Kept Here Too', notes: 'local note' });
      const resolved = await h.api('POST', `/api/conflicts/${conflict.id}/resolve`, { resolution: 'custom', data: { name: 'Agreed After Deletion' } });
      expect(resolved.status).toBe(200);
      expect((await settled(resolved.body.pendingPush.outboxId)).state).toBe('done');
      await expectRecreated(con, 15, conflict.id, 'custom', { name: 'Agreed After Deletion', notes: 'local note' });
    });

    test('"remote" accepts the deletion: the record is deleted here and nothing is pushed', async () => {
      const con = await connection();
      const conflict = await goneConflict(con, 16, { name: 'Let Go' });
      const writesBefore = (await h.sandbox('GET', 'stats')).byKind.write;
      const resolved = await h.api('POST', `/api/conflicts/${conflict.id}/resolve`, { resolution: 'remote' });
      expect(resolved.status).toBe(200);
      expect(resolved.body).toMatchObject({ conflict: { state: 'resolved', resolution: 'remote' }, pendingPush: null });
      expect((await listed(con)).get(cus(16))?.metadata.deleted).toBe(true);
      expect((await h.platform.records.get(scopeOf(con), cus(16)))?.pendingPush ?? null).toBeNull();
      expect((await h.waitForRun(await h.startSync('full', con))).state).toBe('done');
      expect((await listed(con)).get(cus(16))?.metadata.deleted).toBe(true);
      expect((await h.sandbox('GET', 'stats')).byKind.write).toEqual(writesBefore);
      expect((await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`)).body.conflicts).toEqual([]);
    });
  });

  describe('a parked conflict that a pull or a webhook settles closes by itself (resolution "settled")', () => {
    const open = async (con: string) => (await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`)).body.conflicts;

    test('a sync run reads the provider holding the local name (and a phone changed there): the conflict closes, and the field changed here alone reaches the sandbox', async () => {
      const con = await connection();
      await h.sandbox('PATCH', `records/customers/${cus(17)}`, { name: 'Remote Seventeen' });
      const written = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(17)}`, { name: 'Local Seventeen', notes: 'only here' });
      const outboxId = written.body.pendingPush.outboxId;
      expect((await settled(outboxId)).state).toBe('parked');
      const [conflict] = await open(con);
      expect(conflict).toMatchObject({ outboxId, fields: ['name'] });
      expect((await h.sandbox('GET', `records/customers/${cus(17)}`)).notes).not.toBe('only here');

      await h.sandbox('PATCH', `records/customers/${cus(17)}`, { name: 'Local Seventeen', phone: '+1 555 017 1717' });
      expect((await h.waitForRun(await h.startSync('incremental', con))).state).toBe('done');
      expect((await h.api('GET', `/api/conflicts/${conflict.id}`)).body).toMatchObject({ state: 'resolved', resolution: 'settled' });
      expect(await open(con)).toEqual([]);
      const entry = await settled(outboxId);
      expect(entry).toMatchObject({ state: 'done', replays: 1 });
      expect(await h.sandbox('GET', `records/customers/${cus(17)}`)).toMatchObject({ name: 'Local Seventeen', notes: 'only here', phone: '+1 555 017 1717' });
      const local = await h.platform.records.get({ tenantId: 't1', connectionId: con, entity: 'customers' }, cus(17));
      expect(local?.pendingPush ?? null).toBeNull();
      // The run's merge took the phone from the provider and names it as the clock's origin, as a push's merge does.
      expect(local?.fieldClock?.phone).toMatchObject({ origin: 'sandbox' });
      expect(local?.fieldClock?.notes).toMatchObject({ origin: 'syncbridge' });
      const stats = (await h.api('GET', '/api/conflicts/stats')).body.stats.filter((s: { connectionId: string }) => s.connectionId === con);
      expect(stats).toEqual([{ connectionId: con, kind: 'data_mismatch', open: 0, resolved: 1 }]);
    });

    test('a webhook carries the provider holding the local name (and a phone changed there): the conflict closes and nothing is pushed', async () => {
      const con = await connection();
      const secret = `whsec_${randomBytes(24).toString('base64')}`;
      expect((await h.api('PUT', `/api/connections/${con}/webhook`, { secrets: [secret] })).status).toBe(200);
      const conflict = await parkedConflict(con, 18);
      const writesBefore = (await h.sandbox('GET', 'stats')).byKind.write;
      await h.sandbox('POST', 'webhooks', { url: `${h.hostUrl}/api/webhooks/sandbox/${con}`, secret, entities: ['customers'] });
      try {
        await h.sandbox('PATCH', `records/customers/${cus(18)}`, { name: `Local ${con}`, phone: '+1 555 018 1818' });
        await h.waitFor('the webhook to settle the conflict', async () => ((await h.api('GET', `/api/conflicts/${conflict.id}`)).body.state === 'resolved' ? true : undefined));
      } finally {
        await h.sandbox('DELETE', 'webhooks');
      }
      expect((await h.api('GET', `/api/conflicts/${conflict.id}`)).body).toMatchObject({ state: 'resolved', resolution: 'settled' });
      expect(await h.platform.outbox.get(conflict.outboxId)).toMatchObject({ state: 'done' });
      const local = await h.platform.records.get({ tenantId: 't1', connectionId: con, entity: 'customers' }, cus(18));
      expect(local).toMatchObject({ data: { name: `Local ${con}`, phone: '+1 555 018 1818' } });
      expect(local?.pendingPush ?? null).toBeNull();
      expect(local?.fieldClock?.phone).toMatchObject({ origin: 'sandbox' });
      expect((await h.sandbox('GET', 'stats')).byKind.write).toEqual(writesBefore);
    });
  });
});
