import { isSyncBridgeError } from '../../shared/core/errors';
import { LOCAL_ID_PREFIX } from '../../shared/core/outbound/localChanges';
import { twoWayFor } from '../../shared/core/outbound/registry';
import { Harness } from '../support/harness';

/**
 * A record created through the admin API lives under a temporary id until its push succeeds, then
 * moves to the id the provider assigned; a record the provider deleted and a resolution keeps is
 * created again and moves the same way. A client holding the old id follows the link the move
 * leaves: the tombstone at the old id names the new one (`metadata.movedTo`), the record at the new
 * id names its earlier ids (`metadata.previousIds`), in `GET …/records/{entity}/{id}` and in the
 * records feed. The real local host over HTTP with the sandbox, on SQLite and on Cosmos DB (loopback).
 */
describe.each(['local', 'azure'] as const)('old and new ids of a moved record are linked in the records API (%s platform)', (platform) => {
  let h: Harness;
  let connections = 0;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 3 }, platform });
    twoWayFor(h.services, { retry: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 2 }, random: () => 0.5 });
  }, 60_000);
  afterAll(async () => h?.close());

  const connection = () => h.twoWayConnection(`idl${platform}${(connections += 1)}`);
  const record = (con: string, externalId: string) => h.api('GET', `/api/connections/${con}/records/customers/${encodeURIComponent(externalId)}`);
  /** The records feed from `after` on (tombstones included), by external id. */
  async function feed(con: string, after: string): Promise<Map<string, any>> {
    const page = await h.api('GET', `/api/connections/${con}/records?entity=customers&modifiedAfter=${encodeURIComponent(after)}&limit=1000`);
    expect(page.status).toBe(200);
    return new Map(page.body.records.map((r: { externalId: string }) => [r.externalId, r]));
  }
  /** POSTs a customer and waits for its push: the temporary id it was given, and the provider's id it moved to. */
  async function createPushed(con: string, email: string): Promise<{ temporaryId: string; newId: string }> {
    const posted = await h.api('POST', `/api/connections/${con}/records/customers`, { name: 'Linked Customer', email, currency: 'EUR' });
    expect(posted.status).toBe(202);
    const temporaryId: string = posted.body.externalId;
    expect(temporaryId.startsWith(LOCAL_ID_PREFIX)).toBe(true);
    expect(posted.body.metadata).toMatchObject({ movedTo: null, previousIds: [] });
    expect((await h.settledOutbox(posted.body.pendingPush.outboxId)).state).toBe('done');
    const [remote] = (await h.sandbox('GET', 'dump')).customers.filter((c: { email: string }) => c.email === email);
    return { temporaryId, newId: String(remote.id) };
  }

  test('a local create: GET by the id the POST answered finds the tombstone naming the new id; the feed lists both, linked', async () => {
    const con = await connection();
    const before = new Date(Date.now() - 1).toISOString();
    const { temporaryId, newId } = await createPushed(con, `linked.${con}@example.com`);

    const old = await record(con, temporaryId);
    expect(old.status).toBe(200);
    expect(old.body).toMatchObject({ externalId: temporaryId, pendingPush: null, metadata: { deleted: true, lastAction: 'deleted', movedTo: newId, previousIds: [] } });
    const moved = await record(con, old.body.metadata.movedTo);
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ externalId: newId, data: await h.sandbox('GET', `records/customers/${newId}`), metadata: { deleted: false, movedTo: null, previousIds: [temporaryId] } });

    // The feed still lists the tombstone as a deletion (a consumer's copy stays consistent), now
    // saying where the record went; and the record at the new id says where it came from.
    const listed = await feed(con, before);
    expect(listed.get(temporaryId)?.metadata).toMatchObject({ deleted: true, lastAction: 'deleted', movedTo: newId });
    expect(listed.get(newId)?.metadata).toMatchObject({ deleted: false, previousIds: [temporaryId], movedTo: null });
    expect(listed.size).toBe(2);

    // A write to the old id is refused, and says where the record is now.
    const patched = await h.api('PATCH', `/api/connections/${con}/records/customers/${temporaryId}`, { notes: 'too late' });
    expect(patched.status).toBe(404);
    expect(patched.body.error.message).toContain(`moved to "${newId}"`);
    // An idempotent create retried after its record moved (its key's local id) names the new id too.
    const retried = await twoWayFor(h.services).changes.create({ tenantId: 't1', connectionId: con, entity: 'customers' }, { name: 'Linked Customer' }, { localId: temporaryId.slice(LOCAL_ID_PREFIX.length) }).catch((error: unknown) => error);
    expect(isSyncBridgeError(retried, 'conflict') && retried.message).toContain(`"${newId}"`);

    // A full sync finds the record unchanged and keeps both links.
    expect((await h.waitForRun(await h.startSync('full', con))).state).toBe('done');
    expect((await record(con, temporaryId)).body.metadata).toMatchObject({ deleted: true, movedTo: newId });
    expect((await record(con, newId)).body.metadata).toMatchObject({ deleted: false, previousIds: [temporaryId] });
  });

  test('created again after the provider deleted it: each id leads to the next, the newest names all of them', async () => {
    const con = await connection();
    const { temporaryId, newId: firstId } = await createPushed(con, `recreated.${con}@example.com`);
    // The provider deletes the record while it is edited here: the push parks a data_mismatch
    // with no remote copy, and "local" creates it again under another id.
    await h.sandbox('DELETE', `records/customers/${firstId}`);
    const edited = await h.api('PATCH', `/api/connections/${con}/records/customers/${firstId}`, { notes: 'kept here' });
    expect((await h.settledOutbox(edited.body.pendingPush.outboxId)).state).toBe('parked');
    const [conflict] = (await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`)).body.conflicts;
    expect(conflict).toMatchObject({ kind: 'data_mismatch', externalId: firstId, remote: null });
    const resolved = await h.api('POST', `/api/conflicts/${conflict.id}/resolve`, { resolution: 'local' });
    expect(resolved.body.pendingPush).toMatchObject({ op: 'create' });
    expect((await h.settledOutbox(resolved.body.pendingPush.outboxId)).state).toBe('done');

    const first = await record(con, firstId);
    expect(first.status).toBe(200);
    expect(first.body.metadata).toMatchObject({ deleted: true, previousIds: [temporaryId] });
    const secondId: string = first.body.metadata.movedTo;
    expect(secondId).toEqual(expect.any(String));
    expect(secondId).not.toBe(firstId);
    // Followed hop by hop from the id the POST answered: temporary → first provider id → second.
    expect((await record(con, temporaryId)).body.metadata).toMatchObject({ deleted: true, movedTo: firstId });
    const second = await record(con, secondId);
    expect(second.body).toMatchObject({ data: await h.sandbox('GET', `records/customers/${secondId}`), metadata: { deleted: false, movedTo: null, previousIds: [temporaryId, firstId] } });
    expect(second.body.data).toMatchObject({ notes: 'kept here' });
  });

  test('GET of an id never stored answers 404; of a record that never moved, 200 with empty links', async () => {
    const con = await connection();
    const missing = await record(con, 'cus_none');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const [any] = (await h.api('GET', `/api/connections/${con}/records?entity=customers&limit=1`)).body.records;
    const plain = await record(con, any.externalId);
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual({ ...any, pendingPush: null });
    expect(plain.body.metadata).toMatchObject({ movedTo: null, previousIds: [] });
    expect((await h.api('GET', `/api/connections/nope/records/customers/${any.externalId}`)).status).toBe(404);
  });
});
