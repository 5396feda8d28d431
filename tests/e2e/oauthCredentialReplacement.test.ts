import type { Harness } from '../support/harness';
import { adminApiOAuthCredential, adminApiOAuthTwoWayConnection, connectThroughBrowser, cus, heldEntry, OAUTH_TEST_CLIENT, patchCustomerName, revokeAuthorization, startHeldPushHarness, TEN_MINUTES } from '../support/oauthTwoWay';

/**
 * An OAuth 2 connection whose tokens were given to the admin API (no `config.oauth`, so the connect
 * flow cannot run for it) gets new credentials with PUT /api/connections/{id}/credentials: after
 * an `invalid_grant` parked it, that is its way back. Real stack: admin API, local host, outbound
 * worker, the sandbox's OAuth 2 server and API over HTTP. Held pushes are checked again only every
 * ten minutes here, so only the release that comes with the new credentials can push in time.
 */
describe('replacing the credentials of a connection through the admin API', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHeldPushHarness(TEN_MINUTES);
  });
  afterAll(async () => h.close());

  const remote = (n: number) => h.sandbox('GET', `records/customers/${cus(n)}`);
  const status = async (id: string) => (await h.platform.connections.get(id))!.status;
  const versions = async (id: string) => (await h.platform.secrets.listVersions(`connection-${id}-credentials`)).length;
  const oauthStats = () => h.sandbox<{ refreshReuse: number; errors: Record<string, number> }>('GET', 'oauth');

  const patch = (con: string, n: number, name: string) => patchCustomerName(h, con, n, name);

  const held = (outboxId: string) => heldEntry(h, outboxId);

  /** Revokes the tokens at the provider and pushes: the 401, then invalid_grant, parks the connection and holds the push. */
  async function parkWithHeldPush(con: string, n: number, name: string): Promise<string> {
    await revokeAuthorization(h, con);
    const outboxId = await patch(con, n, name);
    expect((await held(outboxId)).lastError).toMatch(/Waiting for reauthorization/);
    expect(await status(con)).toBe('reauthorization_required');
    return outboxId;
  }

  test('a connection parked for invalid_grant gets new credentials by PUT: active again, its held push goes out at once', async () => {
    const con = 'api-reauth';
    await adminApiOAuthTwoWayConnection(h, con);
    const outboxId = await parkWithHeldPush(con, 2, 'Pushed After New Credentials');
    // The connect flow cannot heal it: the connection has no config.oauth.
    expect((await connectThroughBrowser(h, con)).status).toBe(400);

    const replaced = await h.api('PUT', `/api/connections/${con}/credentials`, await adminApiOAuthCredential(h));
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ connectionId: con, connectionStatus: 'active', type: 'oauth2', hasRefreshToken: true, versions: 2 });
    expect(JSON.stringify(replaced.body)).not.toContain(OAUTH_TEST_CLIENT.clientSecret);
    expect(await status(con)).toBe('active');
    expect(await h.settledOutbox(outboxId)).toMatchObject({ state: 'done', lastError: null });
    expect((await remote(2)).name).toBe('Pushed After New Credentials');
    expect((await h.waitForRun(await h.startSync('incremental', con), 30_000)).state).toBe('done');
    expect(h.telemetryLines.some((line) => line.includes('"ConnectionCredentialsReplaced"') && line.includes(con))).toBe(true);
    expect((await oauthStats()).refreshReuse).toBe(0);
  });

  test('new credentials for a paused connection keep it paused: its held push waits for the resume', async () => {
    const con = 'api-reauth-paused';
    await adminApiOAuthTwoWayConnection(h, con);
    await revokeAuthorization(h, con); // the old tokens are dead: only the new ones can push
    expect((await h.api('POST', `/api/connections/${con}/pause`)).status).toBe(200);
    const outboxId = await patch(con, 3, 'Pushed After Resume');
    expect((await held(outboxId)).lastError).toMatch(/to be resumed/);

    const replaced = await h.api('PUT', `/api/connections/${con}/credentials`, await adminApiOAuthCredential(h));
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ connectionStatus: 'paused' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await h.platform.outbox.get(outboxId)).toMatchObject({ state: 'pending' });
    expect((await remote(3)).name).not.toBe('Pushed After Resume');

    expect((await h.api('POST', `/api/connections/${con}/resume`)).status).toBe(200);
    expect(await h.settledOutbox(outboxId)).toMatchObject({ state: 'done', lastError: null });
    expect((await remote(3)).name).toBe('Pushed After Resume');
    expect(await status(con)).toBe('active');
  });

  test('the new credentials are stored under the refresh lease: while a refresh holds it, the PUT waits', async () => {
    const con = 'api-reauth-lease';
    await adminApiOAuthTwoWayConnection(h, con);
    await parkWithHeldPush(con, 4, 'Pushed After The Lease');
    const refresh = await h.platform.leases.acquire(`token-refresh:${con}`, 'a-refresh-in-flight', 30_000);
    expect(refresh).toBeTruthy();
    const put = h.api('PUT', `/api/connections/${con}/credentials`, await adminApiOAuthCredential(h));
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await versions(con)).toBe(1); // nothing stored while the refresh holds the lease
    expect(await status(con)).toBe('reauthorization_required');
    await h.platform.leases.release(refresh!);
    expect((await put).status).toBe(200);
    expect(await versions(con)).toBe(2);
    expect(await status(con)).toBe('active');
  });

  test('the PUT is validated like the create and needs the admin role; nothing is stored when it is refused', async () => {
    const con = 'api-reauth-checks';
    await adminApiOAuthTwoWayConnection(h, con);
    const credential = await adminApiOAuthCredential(h);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...credential, tokenUrl: 'http://example.com/oauth/token' }, /tokenUrl must be an https URL: http is allowed for loopback hosts only/],
      [{ ...credential, clientSecret: undefined, grant: 'client_credentials' }, /clientSecret/],
      [{ ...credential, accessToken: '' }, /accessToken/],
      [{ type: 'none' }, /none/],
    ];
    for (const [body, message] of cases) {
      const refused = await h.api('PUT', `/api/connections/${con}/credentials`, body);
      expect(refused.status).toBe(400);
      expect(refused.body.error.message).toMatch(message);
    }
    const { key } = await h.services.tenants.issueApiKey('t1', 'operator', 'operator key');
    expect((await h.api('PUT', `/api/connections/${con}/credentials`, credential, key)).status).toBe(403);
    expect((await h.api('PUT', '/api/connections/no-such-connection/credentials', credential)).status).toBe(404);
    expect(await versions(con)).toBe(1);
  });
});
