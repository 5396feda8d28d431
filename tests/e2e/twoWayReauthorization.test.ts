import { createHmac, randomBytes } from 'node:crypto';
import { twoWayFor } from '../../shared/core/outbound/registry';
import { Harness } from '../support/harness';
import { connectThroughBrowser, OAUTH_TEST_CLIENT, oauthTwoWayConnection as createOAuthTwoWayConnection, revokeAuthorization as revokeSandboxAuthorization } from '../support/oauthTwoWay';

const CLIENT = OAUTH_TEST_CLIENT;
/** How long a push held for a parked connection waits before the relay may check it again (test value). */
const HELD_RECHECK_MS = 400;

/**
 * Pushes of an OAuth connection that needs reauthorization, on the real stack: the admin API
 * writes, the outbound worker pushes to the sandbox over HTTP with OAuth 2 bearer tokens, the
 * sandbox revokes the authorization (so the push meets a 401, the refresh meets invalid_grant and
 * the connection is parked), and the connect flow heals it. A push is held while the connection is
 * parked — pending, never a dead letter — and goes out once the connection is active again.
 */
describe('two-way sync: pushes wait while their connection needs reauthorization', () => {
  let h: Harness;
  const cus = (n: number) => `cus_${String(n).padStart(7, '0')}`;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30, oauth: { ...CLIENT, accessTokenTtlSeconds: 600 } } });
    h.platform.telemetry.registerSecretValue(CLIENT.clientSecret);
    twoWayFor(h.services, { retry: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 3 }, heldRecheckMs: HELD_RECHECK_MS, random: () => 0.5 });
  });
  afterAll(async () => h.close());

  const oauthTwoWayConnection = (id: string) => createOAuthTwoWayConnection(h, id);
  const connect = (id: string) => connectThroughBrowser(h, id);
  const revokeAuthorization = (id: string) => revokeSandboxAuthorization(h, id);

  const oauthStats = () => h.sandbox<{ bearer: { accepted: number; rejected: number }; errors: Record<string, number> }>('GET', 'oauth');
  const remote = (n: number) => h.sandbox('GET', `records/customers/${cus(n)}`);
  const openConflicts = async (con: string) => (await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`)).body.conflicts;

  /** The entry once the worker has handled its message and left it waiting (or settled it). */
  function heldOrSettled(outboxId: string) {
    return h.waitFor(`outbox entry ${outboxId} to be held or settled`, async () => {
      const entry = await h.platform.outbox.get(outboxId);
      return entry && (entry.state !== 'pending' || entry.lastError) ? entry : undefined;
    });
  }

  async function patch(con: string, n: number, name: string): Promise<string> {
    const written = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(n)}`, { name });
    expect(written.status).toBe(202);
    return written.body.pendingPush.outboxId;
  }

  test('a push meeting the 401 that parks the connection, and one made while it is parked, wait and go out after reconnecting', async () => {
    const con = 'reauth-push';
    await oauthTwoWayConnection(con);
    await revokeAuthorization(con);

    // The first push meets the revoked token (401), its refresh meets invalid_grant: the connection is parked.
    const first = await heldOrSettled(await patch(con, 3, 'Pushed After Reconnect'));
    expect((await h.api('GET', `/api/connections/${con}`)).body.status).toBe('reauthorization_required');
    expect(first).toMatchObject({ state: 'pending' });
    expect(first.lastError).toMatch(/Waiting for reauthorization: connection reauth-push/);
    expect(await openConflicts(con)).toEqual([]);

    // While parked, a push is held before any provider call: no bearer token, no refresh token goes out.
    const before = await oauthStats();
    const second = await heldOrSettled(await patch(con, 4, 'Also After Reconnect'));
    expect(second).toMatchObject({ state: 'pending', attempts: 0 });
    expect(second.lastError).toMatch(/Waiting for reauthorization/);
    expect(second.nextAttemptAt).toBeTruthy();

    // Its scheduled check finds the connection still parked and holds it again: no provider call,
    // no attempt counted, the next check later. The relay leaves it alone meanwhile.
    expect(await twoWayFor(h.services).changes.relayPending(con, { idleForMs: 120_000 })).toBe(0);
    const rechecked = await h.waitFor('the held push to be checked again', async () => {
      const entry = await h.platform.outbox.get(second.id);
      return entry && entry.nextAttemptAt !== second.nextAttemptAt ? entry : undefined;
    });
    expect(rechecked).toMatchObject({ state: 'pending', attempts: 0 });
    expect(Date.parse(rechecked.nextAttemptAt!)).toBeGreaterThan(Date.parse(second.nextAttemptAt!));
    // No spinning: over three re-check intervals, each of the two held pushes is checked about
    // once per interval (a timer's jitter allowed), never in a loop.
    const checks = () => h.telemetryLines.filter((line) => line.includes('"PushesHeld"') && line.includes(`"${con}"`)).length;
    const checksBefore = checks();
    await new Promise((resolve) => setTimeout(resolve, 3 * HELD_RECHECK_MS));
    expect(checks() - checksBefore).toBeGreaterThanOrEqual(2 * 2);
    expect(checks() - checksBefore).toBeLessThanOrEqual(2 * 4);
    const after = await oauthStats();
    expect(after.bearer).toEqual(before.bearer);
    expect(after.errors).toEqual(before.errors);
    expect((await remote(3)).name).not.toBe('Pushed After Reconnect');

    // Reconnected: the next scheduled check of each pushes it, and it reaches the provider.
    expect((await connect(con)).status).toBe(200);
    expect((await h.api('GET', `/api/connections/${con}`)).body.status).toBe('active');
    expect(await h.settledOutbox(first.id)).toMatchObject({ state: 'done', lastError: null });
    expect(await h.settledOutbox(second.id)).toMatchObject({ state: 'done', lastError: null });
    expect((await remote(3)).name).toBe('Pushed After Reconnect');
    expect((await remote(4)).name).toBe('Also After Reconnect');
    expect(await openConflicts(con)).toEqual([]);
  });

  test('an id-only webhook event of a connection needing reauthorization fails saying to reconnect and replay; no provider call once parked; the replay applies', async () => {
    const con = 'reauth-hook';
    await oauthTwoWayConnection(con);
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    expect((await h.api('PUT', `/api/connections/${con}/webhook`, { secrets: [secret] })).status).toBe(200);
    /** Posts a signed Standard Webhooks delivery naming only the record id; returns its delivery id. */
    async function idOnlyEvent(n: number): Promise<string> {
      const id = `msg_${randomBytes(8).toString('hex')}`;
      const body = JSON.stringify({ type: 'customers.updated', data: { entity: 'customers', id: cus(n) } });
      const timestamp = Math.floor(Date.now() / 1000);
      const signature = `v1,${createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64')).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
      const response = await fetch(`${h.hostUrl}/api/webhooks/sandbox/${con}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature },
        body,
      });
      expect(response.status).toBe(202);
      return ((await response.json()) as { deliveryId: string }).deliveryId;
    }
    const settledDelivery = (id: string) =>
      h.waitFor(`delivery ${id} to settle`, async () => {
        const found = (await h.api('GET', `/api/connections/${con}/deliveries?limit=500`)).body.deliveries.find((d: { id: string }) => d.id === id);
        return found && found.status !== 'received' ? found : undefined;
      });
    const replayHint = (id: string) => new RegExp(`^Connection ${con} needs reauthorization: .*Replay the delivery \\(POST /api/deliveries/${id}/replay\\) once the connection is active\\.$`);

    await h.sandbox('PATCH', `records/customers/${cus(5)}`, { name: 'Changed At The Provider' });
    await revokeAuthorization(con);
    // The fetch meets the revoked token (401) and its refresh invalid_grant: the connection is parked.
    const first = await idOnlyEvent(5);
    const failed = await settledDelivery(first);
    expect(failed.status).toBe('failed');
    expect(failed.detail).toMatch(replayHint(first));
    expect((await h.api('GET', `/api/connections/${con}`)).body.status).toBe('reauthorization_required');

    // Parked: the next id-only event fails the same way without a provider call.
    const before = await oauthStats();
    const second = await idOnlyEvent(5);
    expect((await settledDelivery(second)).detail).toMatch(replayHint(second));
    expect((await oauthStats()).bearer).toEqual(before.bearer);

    // Reconnected, the replay fetches the record and applies it.
    expect((await connect(con)).status).toBe(200);
    expect((await h.api('POST', `/api/deliveries/${first}/replay`)).status).toBe(202);
    await h.waitFor('the replay to apply', async () => {
      const found = (await h.api('GET', `/api/connections/${con}/deliveries?limit=500`)).body.deliveries.find((d: { id: string }) => d.id === first);
      return found?.status === 'applied' ? found : undefined;
    });
    expect((await h.platform.records.get({ tenantId: 't1', connectionId: con, entity: 'customers' }, cus(5)))?.data.name).toBe('Changed At The Provider');
  });
});
