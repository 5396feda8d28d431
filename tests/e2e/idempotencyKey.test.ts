import { IN_FLIGHT_MS } from '../../functions/admin/idempotencyKey';
import { ManualClock } from '../../shared/core/manualClock';
import { twoWayFor } from '../../shared/core/outbound/registry';
import { Harness } from '../support/harness';

/**
 * Idempotency-Key on the admin API's record writes, end to end: local host, SQLite, the sandbox
 * over HTTP (which counts the creates it made). Each test uses a connection of its own.
 */
describe('admin record writes with an Idempotency-Key', () => {
  let h: Harness;
  let otherTenantKey: string;
  let connections = 0;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 20 } });
    twoWayFor(h.services, { retry: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 3 }, random: () => 0.5 });
    await h.services.tenants.ensureTenant('t2', 'Tenant two');
    otherTenantKey = (await h.services.tenants.issueApiKey('t2', 'admin', 'other')).key;
  });
  afterAll(async () => h.close());

  /** A two-way connection on products with no records synced yet (so listing finds only ours). */
  async function connection(apiKey = h.apiKey): Promise<string> {
    const id = `idem${(connections += 1)}`;
    const created = await h.api('POST', '/api/connections', { id, provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, credentials: { type: 'apiKey', apiKey: 'sandbox-api-key' }, entities: [{ name: 'products', direction: 'both' }], schedule: { enabled: false } }, apiKey);
    if (created.status !== 201) throw new Error(`creating connection ${id} answered ${created.status}: ${JSON.stringify(created.body)}`);
    return id;
  }

  const post = (con: string, body: unknown, key?: string, apiKey = h.apiKey) => h.api('POST', `/api/connections/${con}/records/products`, body, apiKey, key === undefined ? {} : { 'idempotency-key': key });

  const created = async () => (await h.sandbox('GET', 'stats')).writes.created as number;

  /** The live local records of the connection's products titled `title`. */
  async function titled(con: string, title: string, apiKey = h.apiKey): Promise<string[]> {
    const listed = await h.api('GET', `/api/connections/${con}/records?entity=products&limit=1000`, undefined, apiKey);
    return listed.body.records.filter((r: any) => r.data.title === title && !r.metadata.deleted).map((r: any) => r.externalId);
  }

  test('a POST repeated with its key answers the first result, and the provider sees one create', async () => {
    const con = await connection();
    const before = await created();
    const body = { title: 'Retry Me', price: 10, currency: 'EUR' };
    const first = await post(con, body, 'order-4711');
    const again = await post(con, body, 'order-4711');
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body); // the same local id, version and pending push
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(await h.settledOutbox(first.body.pendingPush.outboxId)).toMatchObject({ state: 'done' });
    // Once pushed, a repeat still answers what the first request answered.
    expect((await post(con, body, 'order-4711')).body).toEqual(first.body);
    expect(await created()).toBe(before + 1);
    expect(await titled(con, 'Retry Me')).toHaveLength(1);
  });

  test('keys are per tenant and connection: the same key elsewhere is a request of its own', async () => {
    const mine = await connection();
    const theirs = await connection(otherTenantKey);
    const body = { title: 'Shared Key', price: 1, currency: 'EUR' };
    const a = await post(mine, body, 'same-key');
    const b = await post(theirs, body, 'same-key', otherTenantKey);
    const aAgain = await post(mine, body, 'same-key');
    expect([a.status, b.status, aAgain.status]).toEqual([202, 202, 202]);
    expect(b.body.externalId).not.toBe(a.body.externalId);
    expect(aAgain.body.externalId).toBe(a.body.externalId);
    // One record each (already pushed, perhaps, and listed under the provider's id).
    expect(await titled(mine, 'Shared Key')).toHaveLength(1);
    expect(await titled(theirs, 'Shared Key', otherTenantKey)).toHaveLength(1);
  });

  test('the same key with a different body is refused with 422 and creates nothing', async () => {
    const con = await connection();
    const first = await post(con, { title: 'Original', price: 5, currency: 'EUR' }, 'k-body');
    const other = await post(con, { title: 'Original', price: 6, currency: 'EUR' }, 'k-body');
    expect(first.status).toBe(202);
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    // Key order and spacing are not a different body: the fields are compared, not the bytes.
    const reordered = await post(con, '{ "currency": "EUR", "price": 5, "title": "Original" }', 'k-body');
    expect(reordered.status).toBe(202);
    expect(reordered.body.externalId).toBe(first.body.externalId);
    await h.settledOutbox(first.body.pendingPush.outboxId);
    expect(await titled(con, 'Original')).toHaveLength(1);
  });

  test('a repeat that arrives while the first is in flight is told to retry, then gets the first result', async () => {
    const con = await connection();
    const outbox = h.platform.outbox;
    const commit = outbox.commitLocalChange.bind(outbox);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const committing = new Promise<void>((r) => (entered = r));
    outbox.commitLocalChange = async (...args) => {
      if (args[0].connectionId === con) {
        entered();
        await gate; // the first request stands still between its key claim and its commit
      }
      return commit(...args);
    };
    try {
      const body = { title: 'In Flight', price: 3, currency: 'EUR' };
      const first = post(con, body, 'k-flight');
      await committing;
      const during = await post(con, body, 'k-flight');
      expect(during.status).toBe(409);
      expect(during.body.error.code).toBe('in_progress');
      expect(during.headers.get('retry-after')).toBe('1');
      release();
      const answered = await first;
      expect(answered.status).toBe(202);
      const after = await post(con, body, 'k-flight');
      expect(after.body).toEqual(answered.body);
    } finally {
      outbox.commitLocalChange = commit;
      release();
    }
    expect(await titled(con, 'In Flight')).toHaveLength(1);
  });

  test('a retry after a first attempt that committed but failed to answer finds that record, not a second create', async () => {
    const con = await connection();
    const before = await created();
    const outbox = h.platform.outbox;
    const commit = outbox.commitLocalChange.bind(outbox);
    let failures = 0;
    // The commit happens, but its answer is lost (a store whose reply never came): the caller sees
    // a 500, no queue message was sent, and the caller retries.
    outbox.commitLocalChange = (async (...args: Parameters<typeof commit>) => {
      await commit(...args);
      if (failures === 0) {
        failures += 1;
        throw new Error('the store did not answer');
      }
    }) as typeof outbox.commitLocalChange;
    const body = { title: 'Half Done', price: 7, currency: 'EUR' };
    let first, retry;
    try {
      first = await post(con, body, 'k-crash');
      retry = await post(con, body, 'k-crash');
    } finally {
      outbox.commitLocalChange = commit;
    }
    expect(first.status).toBe(500);
    expect(retry.status).toBe(202);
    expect(await titled(con, 'Half Done')).toEqual([retry.body.externalId]);
    // The push whose message never went out goes out through the relay, once.
    await twoWayFor(h.services).changes.relayPending(con);
    expect(await h.settledOutbox(retry.body.pendingPush.outboxId)).toMatchObject({ state: 'done' });
    expect(await created()).toBe(before + 1);
  });

  test('a PATCH repeated with its key is not applied again over a later change', async () => {
    const con = await connection();
    const made = await post(con, { title: 'Patched', price: 1, currency: 'EUR' });
    await h.settledOutbox(made.body.pendingPush.outboxId);
    const [id] = await titled(con, 'Patched');
    const path = `/api/connections/${con}/records/products/${id}`;
    const first = await h.api('PATCH', path, { price: 2 }, h.apiKey, { 'idempotency-key': 'k-patch' });
    expect(first.status).toBe(202);
    await h.settledOutbox(first.body.pendingPush.outboxId);
    const later = await h.api('PATCH', path, { price: 3 });
    await h.settledOutbox(later.body.pendingPush.outboxId);
    const retried = await h.api('PATCH', path, { price: 2 }, h.apiKey, { 'idempotency-key': 'k-patch' });
    expect(retried.status).toBe(202);
    expect(retried.body).toEqual(first.body);
    expect((await h.platform.records.get({ tenantId: 't1', connectionId: con, entity: 'products' }, id))?.data.price).toBe(3);
    // The same key on another operation is a different request.
    const reused = await h.api('DELETE', path, undefined, h.apiKey, { 'idempotency-key': 'k-patch' });
    expect(reused.status).toBe(422);
  });

  test('a malformed key is a 400 and writes nothing', async () => {
    const con = await connection();
    const bad = await post(con, { title: 'Bad Key', price: 1, currency: 'EUR' }, 'x'.repeat(256));
    expect(bad.status).toBe(400);
    expect(await titled(con, 'Bad Key')).toHaveLength(0);
  });
});

/**
 * The takeover path: a first attempt that stored its key, committed its record and then stood
 * still (a process that died before answering) is taken over by a repeat once IN_FLIGHT_MS has
 * passed. The repeat reuses the first attempt's local id, so it finds that record instead of
 * creating a second one. A manual clock crosses the minute.
 */
describe('admin record writes with an Idempotency-Key: a repeat takes over from a first attempt that died', () => {
  const clock = new ManualClock(new Date());
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 5 }, clock });
    twoWayFor(h.services, { retry: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 3 }, random: () => 0.5 });
  });
  afterAll(async () => h.close());

  test('before IN_FLIGHT_MS the repeat is told to wait; after it, the repeat answers with the record the first attempt committed', async () => {
    const con = 'takeover';
    const made = await h.api('POST', '/api/connections', { id: con, provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, credentials: { type: 'apiKey', apiKey: 'sandbox-api-key' }, entities: [{ name: 'products', direction: 'both' }], schedule: { enabled: false } });
    expect(made.status).toBe(201);
    const scope = { tenantId: 't1', connectionId: con, entity: 'products' };
    const outbox = h.platform.outbox;
    const commit = outbox.commitLocalChange.bind(outbox);
    let committed!: () => void;
    const firstCommitted = new Promise<void>((r) => (committed = r));
    let die!: (error: Error) => void;
    const dead = new Promise<never>((_, fail) => (die = fail));
    dead.catch(() => undefined);
    let calls = 0;
    outbox.commitLocalChange = async (...args) => {
      calls += 1;
      const result = await commit(...args);
      if (calls === 1) {
        committed();
        await dead; // committed, and then nothing: no answer stored, none sent
      }
      return result;
    };
    const body = { title: 'Taken Over', price: 9, currency: 'EUR' };
    const post = () => h.api('POST', `/api/connections/${con}/records/products`, body, h.apiKey, { 'idempotency-key': 'k-died' });
    const first = post();
    try {
      await firstCommitted;
      const [localId] = (await h.platform.records.list({ ...scope, limit: 10 })).records.map((r) => r.externalId);
      expect(localId).toBeDefined();

      clock.advance(IN_FLIGHT_MS - 1_000);
      const tooSoon = await post();
      expect(tooSoon.status).toBe(409);
      expect(tooSoon.body.error.code).toBe('in_progress');

      clock.advance(2_000); // the first attempt has now been silent for longer than IN_FLIGHT_MS
      const takeover = await post();
      expect(takeover.status).toBe(202);
      expect(takeover.body.externalId).toBe(localId); // the first attempt's record, found by its local id
      const live = (await h.platform.records.list({ ...scope, limit: 10 })).records.filter((r) => !r.deleted);
      expect(live.map((r) => r.externalId)).toEqual([localId]);
      // Later repeats get the takeover's answer.
      const again = await post();
      expect(again.body).toEqual(takeover.body);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
    } finally {
      die(new Error('the first attempt is gone'));
      outbox.commitLocalChange = commit;
      await first.catch(() => undefined);
    }
  });
});
