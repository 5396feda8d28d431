import type { Harness } from '../support/harness';
import { connectThroughBrowser, cus, heldEntry, oauthTwoWayConnection, patchCustomerName, revokeAuthorization, startHeldPushHarness, TEN_MINUTES } from '../support/oauthTwoWay';

/**
 * A held push (its connection paused, or waiting for reauthorization) goes out as soon as the
 * connection is active again — resumed, reconnected — not at its next scheduled check. The checks
 * are ten minutes apart here, so only the release can push within the test. Real stack: admin API,
 * local host, outbound worker, the sandbox over HTTP (OAuth 2 for the reconnect case).
 */
describe('pausing and resuming a connection: held pushes are released when it is active again', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHeldPushHarness(TEN_MINUTES);
  });
  afterAll(async () => h.close());

  const remote = (n: number) => h.sandbox('GET', `records/customers/${cus(n)}`);

  const patch = (con: string, n: number, name: string) => patchCustomerName(h, con, n, name);

  const held = (outboxId: string) => heldEntry(h, outboxId);

  test('resuming a paused connection pushes what it held at once; a push waiting out a backoff is left to wait', async () => {
    const con = await h.twoWayConnection('paused-push');
    expect((await h.api('POST', `/api/connections/${con}/pause`)).status).toBe(200);
    const outboxId = await patch(con, 2, 'Held While Paused');
    const entry = await held(outboxId);
    expect(entry.lastError).toMatch(/Waiting for connection paused-push to be resumed/);
    expect(Date.parse(entry.nextAttemptAt!) - Date.now()).toBeGreaterThan(TEN_MINUTES - 60_000);
    expect((await remote(2)).name).not.toBe('Held While Paused');

    // Another pending entry of the connection that waits for its backoff, not for the connection.
    const waiting = await patch(con, 3, 'Waiting Out A Backoff');
    await held(waiting);
    const later = new Date(Date.now() + TEN_MINUTES).toISOString();
    await h.platform.outbox.update(waiting, { state: 'pending', lastError: 'HTTP 503 from the provider', nextAttemptAt: later }, new Date().toISOString());

    const resumed = await h.api('POST', `/api/connections/${con}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ status: 'active', releasedPushes: 1 });
    expect(await h.settledOutbox(outboxId)).toMatchObject({ state: 'done', lastError: null });
    expect((await remote(2)).name).toBe('Held While Paused');
    expect(await h.platform.outbox.get(waiting)).toMatchObject({ state: 'pending', nextAttemptAt: later });
  });

  test('reconnecting a connection parked for reauthorization pushes what it held at once', async () => {
    const con = 'reauth-release';
    await oauthTwoWayConnection(h, con);
    await revokeAuthorization(h, con);
    // The push meets the revoked token, the refresh invalid_grant: the connection is parked and the push held.
    const outboxId = await patch(con, 4, 'Pushed On Reconnect');
    const entry = await held(outboxId);
    expect(entry.lastError).toMatch(/Waiting for reauthorization/);
    expect((await h.api('GET', `/api/connections/${con}`)).body.status).toBe('reauthorization_required');

    expect((await connectThroughBrowser(h, con)).status).toBe(200);
    expect(await h.settledOutbox(outboxId)).toMatchObject({ state: 'done', lastError: null });
    expect((await remote(4)).name).toBe('Pushed On Reconnect');
  });

  test('connecting a paused connection again keeps it paused: its held pushes wait for the resume', async () => {
    const con = 'paused-reconnect';
    await oauthTwoWayConnection(h, con);
    expect((await h.api('POST', `/api/connections/${con}/pause`)).status).toBe(200);
    const outboxId = await patch(con, 5, 'After Pause And Reconnect');
    expect((await held(outboxId)).lastError).toMatch(/to be resumed/);

    expect((await connectThroughBrowser(h, con)).status).toBe(200);
    expect((await h.api('GET', `/api/connections/${con}`)).body.status).toBe('paused');
    expect(await h.platform.outbox.get(outboxId)).toMatchObject({ state: 'pending', lastError: expect.stringMatching(/to be resumed/) });

    expect((await h.api('POST', `/api/connections/${con}/resume`)).body).toMatchObject({ status: 'active', releasedPushes: 1 });
    expect(await h.settledOutbox(outboxId)).toMatchObject({ state: 'done' });
    expect((await remote(5)).name).toBe('After Pause And Reconnect');
  });

  test('a pause or resume that races another write of the connection (the scheduler noting an occurrence) reads again and succeeds', async () => {
    const con = await h.twoWayConnection('pause-race');
    const connections = h.platform.connections;
    const get = connections.get.bind(connections);
    let raceNext = false;
    let races = 0;
    // The first read of each operation is followed by another writer's update before ours.
    connections.get = async (id: string) => {
      const read = await get(id);
      if (id === con && read && raceNext) {
        raceNext = false;
        races += 1;
        await connections.update({ ...read, updatedAt: new Date().toISOString() });
      }
      return read;
    };
    try {
      raceNext = true;
      expect((await h.api('POST', `/api/connections/${con}/pause`)).body).toMatchObject({ status: 'paused' });
      raceNext = true;
      expect((await h.api('POST', `/api/connections/${con}/resume`)).body).toMatchObject({ status: 'active' });
    } finally {
      connections.get = get;
    }
    expect(races).toBe(2);
  });

  test('a paused connection refuses a sync start until it is resumed', async () => {
    const con = await h.twoWayConnection('paused-sync');
    expect((await h.api('POST', `/api/connections/${con}/pause`)).status).toBe(200);
    const refused = await h.api('POST', `/api/connections/${con}/syncs`, { mode: 'incremental' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/is paused; resume it/);
    expect((await h.api('POST', `/api/connections/${con}/resume`)).status).toBe(200);
    expect((await h.waitForRun(await h.startSync('incremental', con))).state).toBe('done');
  });

  test('a held push that moved on between the release listing it and its message (parked by an overlapping release) is left as it is', async () => {
    const con = await h.twoWayConnection('release-race');
    expect((await h.api('POST', `/api/connections/${con}/pause`)).status).toBe(200);
    const outboxId = await patch(con, 6, 'Parked Meanwhile');
    await held(outboxId);
    const outbox = h.platform.outbox;
    const list = outbox.listPending.bind(outbox);
    // Right after the release lists the entry, the worker (another release's message) pushed it and
    // the provider's 409 parked it for a person.
    outbox.listPending = async (options) => {
      const listed = await list(options);
      if (options.connectionId === con) await outbox.update(outboxId, { state: 'parked', lastError: 'HTTP 409: an overlapping release pushed it' }, new Date().toISOString());
      return listed;
    };
    try {
      expect((await h.api('POST', `/api/connections/${con}/resume`)).body).toMatchObject({ status: 'active', releasedPushes: 1 });
    } finally {
      outbox.listPending = list;
    }
    await h.waitFor('the released message to be handled', async () => h.platform.queue.depth('sync-outbound').active === 0);
    expect(await outbox.get(outboxId)).toMatchObject({ state: 'parked', lastError: 'HTTP 409: an overlapping release pushed it' });
    expect((await remote(6)).name).not.toBe('Parked Meanwhile');
  });
});
