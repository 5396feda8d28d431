import { InvocationContext, type Timer } from '@azure/functions';
import { PassThrough } from 'node:stream';
import { tokenRefresherHandler } from '../../functions/tokenRefresher';
import { credentialServiceFor } from '../../shared/core/credentials/registry';
import { CredentialService, type OAuth2Credentials } from '../../shared/core/credentials/credentialService';
import { OAuthClient } from '../../shared/core/credentials/oauthClient';
import { createLocalPlatform } from '../../shared/platform/local/localPlatform';
import { Harness } from '../support/harness';

const CLIENT = { clientId: 'syncbridge-e2e', clientSecret: 'e2e-client-secret-7f3a9c2d41b8' };

/**
 * OAuth 2 end to end on the real sandbox (access tokens live 2 s, refresh tokens rotate and the
 * sandbox counts every spent refresh token presented again): connect flow, expiry mid-sync,
 * concurrent refreshers in one and in two processes' worth of services, invalid_grant, secret scan.
 */
describe('OAuth 2 credentials: connect flow, refresh with rotation, reauthorization', () => {
  let h: Harness;
  /** Every response body the tests saw, for the secret scan. */
  const seen: string[] = [];

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 200, oauth: { ...CLIENT, accessTokenTtlSeconds: 2 } } });
    h.platform.telemetry.registerSecretValue(CLIENT.clientSecret);
  });
  afterAll(async () => h.close());

  async function api(method: string, path: string, body?: unknown) {
    const response = await h.api(method, path, body);
    seen.push(JSON.stringify(response.body ?? ''));
    return response;
  }

  async function createOAuthConnection(id: string, extra: Record<string, unknown> = {}): Promise<void> {
    const created = await api('POST', '/api/connections', {
      id,
      provider: 'sandbox',
      entities: ['customers'],
      config: {
        baseUrl: h.sandboxUrl,
        pageSize: 10,
        oauth: { authorizeUrl: `${h.sandboxUrl}/oauth/authorize`, tokenUrl: `${h.sandboxUrl}/oauth/token`, clientId: CLIENT.clientId, scopes: ['read'] },
      },
      ...extra,
    });
    expect(created.status).toBe(201);
    expect((await api('PUT', `/api/connections/${id}/oauth-client-secret`, { clientSecret: CLIENT.clientSecret })).status).toBe(204);
  }

  /** Runs the connect flow the way a browser would: fetch follows the 302s to the sandbox and back. */
  async function connect(id: string): Promise<Response> {
    const response = await fetch(`${h.hostUrl}/api/connect/sandbox?connection=${id}`, { headers: { 'x-api-key': h.apiKey, accept: 'application/json' } });
    return response;
  }

  async function oauthStats(): Promise<{ refreshed: number; refreshReuse: number; codeReuse: number; bearer: { accepted: number; rejected: number }; revokedFamilies: number; errors: Record<string, number> }> {
    return h.sandbox('GET', 'oauth');
  }

  async function storedCredential(id: string): Promise<OAuth2Credentials> {
    const secret = await h.platform.secrets.get(`connection-${id}-credentials`);
    return JSON.parse(secret!.value) as OAuth2Credentials;
  }

  test('the connect flow redirects with state and PKCE, exchanges the code and stores the credential', async () => {
    await createOAuthConnection('oauth-a');
    const before = await api('GET', '/api/connections/oauth-a/credentials');
    expect(before.body).toMatchObject({ type: null, versions: 0, oauthClientSecretSet: true });

    // The first hop, not followed: where it points.
    const start = await fetch(`${h.hostUrl}/api/connect/sandbox?connection=oauth-a`, { headers: { 'x-api-key': h.apiKey }, redirect: 'manual' });
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get('location')!);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${h.sandboxUrl}/oauth/authorize`);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${h.hostUrl}/api/connect/callback`);

    const done = await connect('oauth-a');
    const body = (await done.json()) as any;
    seen.push(JSON.stringify(body));
    expect(done.status).toBe(200);
    expect(body).toMatchObject({ connectionId: 'oauth-a', status: 'active' });

    const status = await api('GET', '/api/connections/oauth-a/credentials');
    expect(status.body).toMatchObject({ type: 'oauth2', hasRefreshToken: true, versions: 1, connectionStatus: 'active' });
    expect(Date.parse(status.body.expiresAt)).toBeGreaterThan(Date.now());
    const view = await api('GET', '/api/connections/oauth-a');
    expect(view.body.hasCredentials).toBe(true);

    // The callback URL the browser landed on cannot be used a second time.
    const replay = await fetch(done.url, { headers: { accept: 'application/json' } });
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as any).error.message).toMatch(/unknown, expired or was used already/);
    expect((await oauthStats()).codeReuse).toBe(0); // refused before the code was sent again
  });

  test('the connect flow refuses bad requests with clear 4xx answers', async () => {
    expect((await fetch(`${h.hostUrl}/api/connect/sandbox?connection=oauth-a`, { redirect: 'manual' })).status).toBe(401);
    expect((await fetch(`${h.hostUrl}/api/connect/sandbox?connection=nope`, { headers: { 'x-api-key': h.apiKey }, redirect: 'manual' })).status).toBe(404);
    expect((await fetch(`${h.hostUrl}/api/connect/other?connection=oauth-a`, { headers: { 'x-api-key': h.apiKey }, redirect: 'manual' })).status).toBe(400);
    expect((await fetch(`${h.hostUrl}/api/connect/sandbox`, { headers: { 'x-api-key': h.apiKey }, redirect: 'manual' })).status).toBe(400);
    // Another tenant cannot connect, read or configure t1's connection; a viewer cannot connect or set secrets.
    await h.services.tenants.ensureTenant('t2', 'Tenant two');
    const foreign = (await h.services.tenants.issueApiKey('t2', 'admin', 'other')).key;
    const viewer = (await h.services.tenants.issueApiKey('t1', 'viewer', 'viewer')).key;
    expect((await fetch(`${h.hostUrl}/api/connect/sandbox?connection=oauth-a`, { headers: { 'x-api-key': foreign }, redirect: 'manual' })).status).toBe(404);
    expect((await fetch(`${h.hostUrl}/api/connect/sandbox?connection=oauth-a`, { headers: { 'x-api-key': viewer }, redirect: 'manual' })).status).toBe(403);
    expect((await h.api('GET', '/api/connections/oauth-a/credentials', undefined, foreign)).status).toBe(404);
    expect((await h.api('PUT', '/api/connections/oauth-a/oauth-client-secret', { clientSecret: 'x' }, viewer)).status).toBe(403);
    expect((await h.api('PUT', '/api/connections/oauth-a/oauth-client-secret', { clientSecret: 'x' }, foreign)).status).toBe(404);
    expect((await h.api('PUT', '/api/connections/oauth-a/oauth-client-secret', {})).status).toBe(400);
    // shop has no config.oauth
    const noOAuth = await fetch(`${h.hostUrl}/api/connect/sandbox?connection=shop`, { headers: { 'x-api-key': h.apiKey, accept: 'application/json' }, redirect: 'manual' });
    expect(noOAuth.status).toBe(400);
    expect(((await noOAuth.json()) as any).error.message).toMatch(/config\.oauth/);
    const forged = await fetch(`${h.hostUrl}/api/connect/callback?code=abc&state=forged-state`);
    expect(forged.status).toBe(400);
    expect(forged.headers.get('content-type')).toMatch(/text\/html/);
    expect(await forged.text()).toMatch(/unknown, expired or was used already/);
    expect((await fetch(`${h.hostUrl}/api/connect/callback?code=abc`)).status).toBe(400);

    // A wrong client secret: the token endpoint says invalid_client; the callback is a 400, nothing stored.
    await createOAuthConnection('oauth-bad');
    await api('PUT', '/api/connections/oauth-bad/oauth-client-secret', { clientSecret: 'wrong-secret-value' });
    const bad = await connect('oauth-bad');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.message).toMatch(/invalid_client/);
    expect((await api('GET', '/api/connections/oauth-bad/credentials')).body).toMatchObject({ type: null, versions: 0 });
  });

  test('a sync whose access token expires several times mid-run completes, rotating the refresh token, with no reuse', async () => {
    await createOAuthConnection('oauth-sync');
    expect((await connect('oauth-sync')).status).toBe(200);
    const first = await storedCredential('oauth-sync');
    const before = await oauthStats();
    await h.sandbox('POST', 'faults', { slowMs: 300 });
    const timerLog: string[] = [];
    const context = new InvocationContext({ functionName: 'tokenRefresher', logHandler: (_level, ...args) => timerLog.push(args.join(' ')) });
    try {
      const runId = await h.startSync('full', 'oauth-sync');
      // The timer fires again and again while the workers refresh on their own: one path for both.
      let timerTicks = 0;
      const timer = (async () => {
        while (!(await h.run(runId)).finishedAt) {
          await tokenRefresherHandler({} as Timer, context);
          timerTicks += 1;
          await new Promise((r) => setTimeout(r, 400));
        }
      })();
      const run = await h.waitForRun(runId, 60_000);
      await timer;
      expect(timerTicks).toBeGreaterThan(3);
      expect(timerLog.at(-1)).toMatch(/connection\(s\) with credentials checked, \d+ refreshed, 0 failed/);
      expect(run.state).toBe('done');
      expect(run.counters).toMatchObject({ fetched: 200, created: 200, failed: 0 });
    } finally {
      await h.sandbox('POST', 'faults', { slowMs: 0 });
    }
    await h.expectInStep(['customers'], 'oauth-sync');
    const after = await oauthStats();
    expect(after.refreshed - before.refreshed).toBeGreaterThanOrEqual(2); // 20 pages × ≥300 ms against 2 s tokens
    expect(after.refreshReuse).toBe(0);
    const latest = await storedCredential('oauth-sync');
    expect(latest.refreshToken).not.toBe(first.refreshToken); // rotated and stored
    expect((await h.platform.secrets.listVersions('connection-oauth-sync-credentials')).length).toBeGreaterThanOrEqual(3);
    const secret = await h.platform.secrets.get('connection-oauth-sync-credentials');
    expect(secret!.expiresOn).toBe(latest.expiresAt); // tagged with the expiry
    // Every refresh is traced: a worker's in its run's trace, a timer tick's in the tick's own.
    const refreshes = h.telemetryLines
      .map((line) => JSON.parse(line) as { type: string; name?: string; traceId?: string; properties?: Record<string, unknown> })
      .filter((l) => l.type === 'event' && l.name === 'CredentialRefreshed' && l.properties?.connectionId === 'oauth-sync');
    expect(refreshes.length).toBeGreaterThanOrEqual(2);
    for (const refresh of refreshes) expect(refresh.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  test('a token the provider ends early gets a 401; the worker refreshes once through the same path and the run completes', async () => {
    await createOAuthConnection('oauth-401');
    expect((await connect('oauth-401')).status).toBe(200);
    const before = await oauthStats();
    await h.sandbox('POST', 'faults', { slowMs: 100 });
    try {
      const runId = await h.startSync('full', 'oauth-401');
      await h.waitFor('the first page', async () => ((await h.run(runId)).counters.fetched >= 10 ? true : undefined));
      const expired = await h.sandbox<{ expiredAccessTokens: number }>('POST', 'oauth/expire', { all: true });
      expect(expired.expiredAccessTokens).toBeGreaterThan(0);
      const run = await h.waitForRun(runId, 60_000);
      expect(run.state).toBe('done');
      expect(run.counters.fetched).toBe(200);
    } finally {
      await h.sandbox('POST', 'faults', { slowMs: 0 });
    }
    const after = await oauthStats();
    expect(after.bearer.rejected).toBeGreaterThan(before.bearer.rejected); // the 401 happened
    expect(after.refreshed).toBeGreaterThan(before.refreshed);
    expect(after.refreshReuse).toBe(0);
  });

  test('a provider that refuses the authorization (error= on the redirect) ends in a 400 and stores nothing', async () => {
    await createOAuthConnection('oauth-scope');
    const connection = await h.platform.connections.get('oauth-scope');
    await h.platform.connections.update({ ...connection!, config: { ...connection!.config, oauth: { ...(connection!.config.oauth as object), scopes: ['admin'] } } });
    const refused = await connect('oauth-scope');
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as any).error.message).toMatch(/did not authorize connection oauth-scope: invalid_scope/);
    expect((await api('GET', '/api/connections/oauth-scope/credentials')).body).toMatchObject({ type: null, versions: 0 });
  });

  test('concurrent refreshers (timer, workers, a second instance on the same data) never send a spent refresh token', async () => {
    await createOAuthConnection('oauth-race');
    expect((await connect('oauth-race')).status).toBe(200);
    const service = credentialServiceFor(h.platform);
    // A second "instance": its own platform and service over the same SQLite file; only the lease is shared.
    const other = createLocalPlatform({ dataDir: h.dataDir, telemetrySink: new PassThrough() });
    const otherService = new CredentialService(other);
    try {
      const before = await oauthStats();
      for (let round = 0; round < 3; round += 1) {
        const stale = (await storedCredential('oauth-race')).accessToken;
        const results = await Promise.all([
          ...Array.from({ length: 8 }, () => service.ensureFresh('oauth-race', { staleAccessToken: stale })),
          ...Array.from({ length: 8 }, () => otherService.ensureFresh('oauth-race', { staleAccessToken: stale })),
          service.refreshExpiring(600_000), // the timer's sweep: tokens of 2 s are inside a 10 min window
          otherService.refreshExpiring(600_000),
        ]);
        for (const result of results.slice(0, 16)) expect((result as { credentials: OAuth2Credentials }).credentials.accessToken).not.toBe(stale);
      }
      const after = await oauthStats();
      expect(after.refreshReuse).toBe(0);
      expect(after.refreshed - before.refreshed).toBeGreaterThanOrEqual(3);
      expect(after.revokedFamilies).toBe(before.revokedFamilies);
      // The family is alive: the newest access token works (a reuse would have revoked it).
      const latest = await storedCredential('oauth-race');
      const check = await fetch(`${h.sandboxUrl}/v1/customers?limit=1`, { headers: { authorization: `Bearer ${latest.accessToken}` } });
      expect(check.status).toBe(200);
      expect((await oauthStats()).refreshReuse).toBe(0);
    } finally {
      await other.close();
    }
  });

  test('invalid_grant parks the connection: the run fails with a reason, new runs get 409, the scheduler skips it, reconnecting heals it', async () => {
    await createOAuthConnection('oauth-revoked', { schedule: { cron: '* * * * * *', enabled: true, mode: 'full' } });
    expect((await connect('oauth-revoked')).status).toBe(200);
    const { refreshToken } = await storedCredential('oauth-revoked');
    await h.sandbox('POST', 'oauth/revoke', { refreshToken });

    const run = await h.waitForRun(await h.startSync('full', 'oauth-revoked'), 30_000);
    expect(run.state).toBe('failed');
    expect(run.lastError).toMatch(/needs reauthorization.*invalid_grant/);
    const connection = await api('GET', '/api/connections/oauth-revoked');
    expect(connection.body.status).toBe('reauthorization_required');
    expect((await api('POST', '/api/connections/oauth-revoked/syncs', { mode: 'full' })).status).toBe(409);

    const errorsBefore = (await oauthStats()).errors.invalid_grant ?? 0;
    await h.services.scheduler.tick(); // the connection's cron fires every second: it would start a run if it were active
    const open = await h.platform.runs.listOpenByConnection('oauth-revoked');
    expect(open).toEqual([]);
    // Nothing retries: neither the timer's sweep nor a worker sends the dead token again.
    expect(await credentialServiceFor(h.platform).refreshExpiring(600_000)).toMatchObject({ failed: 0 });
    await expect(credentialServiceFor(h.platform).ensureFresh('oauth-revoked', { minValidityMs: 600_000 })).rejects.toMatchObject({ code: 'auth_failed' });
    expect((await oauthStats()).errors.invalid_grant ?? 0).toBe(errorsBefore);
    expect(h.telemetryLines.some((line) => line.includes('"ConnectionReauthorizationRequired"') && line.includes('oauth-revoked'))).toBe(true);

    expect((await connect('oauth-revoked')).status).toBe(200);
    expect((await api('GET', '/api/connections/oauth-revoked')).body.status).toBe('active');
    const healed = await h.waitForRun(await h.startSync('full', 'oauth-revoked'), 30_000);
    expect(healed.state).toBe('done');
    expect((await oauthStats()).refreshReuse).toBe(0);
  });

  /**
   * Another instance's refresh of the old authorization, held at the token endpoint until `release()`:
   * `reached` resolves once it holds the refresh lease and is about to spend the refresh token.
   */
  function heldRefresh(id: string) {
    let release!: () => void;
    let reached!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const atProvider = new Promise<void>((resolve) => (reached = resolve));
    class HeldClient extends OAuthClient {
      override async refresh(...args: Parameters<OAuthClient['refresh']>) {
        reached();
        await gate;
        return super.refresh(...args);
      }
    }
    const refreshing = new CredentialService(h.platform, { oauthClient: new HeldClient() }).ensureFresh(id, { minValidityMs: 600_000 });
    refreshing.catch(() => undefined); // awaited by the test
    return { refreshing, atProvider, release };
  }

  /** Reconnects while the old authorization's refresh is held, then lets the refresh finish. */
  async function reconnectDuring(id: string, refresh: ReturnType<typeof heldRefresh>): Promise<Response> {
    await refresh.atProvider;
    const reconnecting = connect(id);
    // Long enough for the callback to store and activate, had it not waited for the refresh lease.
    await new Promise((resolve) => setTimeout(resolve, 600));
    refresh.release();
    return reconnecting;
  }

  test('reconnecting while a refresh of the old authorization is in flight keeps the new authorization', async () => {
    await createOAuthConnection('oauth-reconnect');
    expect((await connect('oauth-reconnect')).status).toBe(200);
    const refresh = heldRefresh('oauth-reconnect');
    expect((await reconnectDuring('oauth-reconnect', refresh)).status).toBe(200);
    const old = await refresh.refreshing;
    // The new authorization's credential is the newest version, not the old one's rotated token.
    const stored = await storedCredential('oauth-reconnect');
    expect(stored.accessToken).not.toBe(old.credentials.accessToken);
    expect(stored.refreshToken).not.toBe(old.credentials.refreshToken);
    const fresh = await credentialServiceFor(h.platform).ensureFresh('oauth-reconnect', { minValidityMs: 600_000 });
    expect(fresh.credentials.accessToken).not.toBe(stored.accessToken);
    expect((await oauthStats()).refreshReuse).toBe(0);
  });

  test('reconnecting while the old authorization\'s refresh meets invalid_grant leaves the connection active', async () => {
    await createOAuthConnection('oauth-reconnect-revoked');
    expect((await connect('oauth-reconnect-revoked')).status).toBe(200);
    await h.sandbox('POST', 'oauth/revoke', { refreshToken: (await storedCredential('oauth-reconnect-revoked')).refreshToken });
    const refresh = heldRefresh('oauth-reconnect-revoked');
    expect((await reconnectDuring('oauth-reconnect-revoked', refresh)).status).toBe(200);
    await expect(refresh.refreshing).rejects.toMatchObject({ code: 'auth_failed' });
    expect((await api('GET', '/api/connections/oauth-reconnect-revoked')).body.status).toBe('active');
  });

  /** A connected connection whose refresh token the sandbox revoked, paused while a refresh is held at the provider, then refused. */
  async function pausedDuringRefusedRefresh(id: string): Promise<void> {
    await createOAuthConnection(id);
    expect((await connect(id)).status).toBe(200);
    await h.sandbox('POST', 'oauth/revoke', { refreshToken: (await storedCredential(id)).refreshToken });
    const refresh = heldRefresh(id);
    await refresh.atProvider;
    expect((await api('POST', `/api/connections/${id}/pause`)).status).toBe(200);
    refresh.release();
    await expect(refresh.refreshing).rejects.toMatchObject({ code: 'auth_failed' });
  }

  test('a connection paused while its refresh meets invalid_grant stays paused, awaiting reauthorization; reconnecting keeps the pause, and resume works', async () => {
    await pausedDuringRefusedRefresh('oauth-paused-revoked');
    const parked = await api('GET', '/api/connections/oauth-paused-revoked');
    expect(parked.body.status).toBe('paused');
    expect(Date.parse(parked.body.reauthorizationRequiredSince)).toBeGreaterThan(0);
    expect((await api('GET', '/api/connections/oauth-paused-revoked/credentials')).body).toMatchObject({ connectionStatus: 'paused', reauthorizationRequired: true });
    // The refused refresh token is not sent again while it waits.
    const errorsBefore = (await oauthStats()).errors.invalid_grant ?? 0;
    await expect(credentialServiceFor(h.platform).ensureFresh('oauth-paused-revoked', { minValidityMs: 600_000 })).rejects.toMatchObject({ code: 'auth_failed' });
    expect((await oauthStats()).errors.invalid_grant ?? 0).toBe(errorsBefore);

    const reconnected = await connect('oauth-paused-revoked');
    expect(reconnected.status).toBe(200);
    expect(((await reconnected.json()) as any).status).toBe('paused');
    const view = await api('GET', '/api/connections/oauth-paused-revoked');
    expect(view.body.status).toBe('paused');
    expect(view.body.reauthorizationRequiredSince).toBeUndefined();
    expect((await api('GET', '/api/connections/oauth-paused-revoked/credentials')).body).toMatchObject({ connectionStatus: 'paused', reauthorizationRequired: false });
    const resumed = await api('POST', '/api/connections/oauth-paused-revoked/resume');
    expect(resumed.status).toBe(200);
    expect(resumed.body.status).toBe('active');
    await credentialServiceFor(h.platform).ensureFresh('oauth-paused-revoked', { minValidityMs: 600_000 });
  });

  test('resuming a connection whose authorization was refused while it was paused parks it for reauthorization', async () => {
    await pausedDuringRefusedRefresh('oauth-paused-resumed');
    const resumed = await api('POST', '/api/connections/oauth-paused-resumed/resume');
    expect(resumed.status).toBe(200);
    expect(resumed.body.status).toBe('reauthorization_required');
    expect((await api('POST', '/api/connections/oauth-paused-resumed/syncs', { mode: 'full' })).status).toBe(409);
    expect((await connect('oauth-paused-resumed')).status).toBe(200);
    expect((await api('GET', '/api/connections/oauth-paused-resumed')).body).toMatchObject({ status: 'active' });
  });

  test('a new client secret for a connection paused while its refresh was refused keeps the pause and ends the wait for reauthorization', async () => {
    await pausedDuringRefusedRefresh('oauth-paused-secret');
    expect((await api('PUT', '/api/connections/oauth-paused-secret/oauth-client-secret', { clientSecret: CLIENT.clientSecret })).status).toBe(204);
    expect((await api('GET', '/api/connections/oauth-paused-secret/credentials')).body).toMatchObject({ connectionStatus: 'paused', reauthorizationRequired: false });
    expect((await api('POST', '/api/connections/oauth-paused-secret/resume')).body.status).toBe('active');
  });

  test('no secret value reaches host logs, telemetry or API responses', async () => {
    const secrets = new Set<string>([CLIENT.clientSecret]);
    for (const id of ['oauth-a', 'oauth-sync', 'oauth-race', 'oauth-revoked']) {
      const name = `connection-${id}-credentials`;
      for (const version of await h.platform.secrets.listVersions(name)) {
        const credentials = JSON.parse((await h.platform.secrets.getVersion(name, version))!.value) as OAuth2Credentials;
        for (const value of [credentials.accessToken, credentials.refreshToken, credentials.clientSecret]) if (value) secrets.add(value);
      }
    }
    for (const value of secrets) h.platform.telemetry.registerSecretValue(value);
    expect(secrets.size).toBeGreaterThan(10);
    await h.platform.telemetry.flush();
    const haystacks = { host: h.hostLines.join('\n'), telemetry: h.telemetryLines.join('\n'), api: seen.join('\n') };
    expect(haystacks.telemetry.length).toBeGreaterThan(1000);
    for (const [where, text] of Object.entries(haystacks)) {
      const leaked = [...secrets].filter((value) => text.includes(value));
      expect({ where, leaked: leaked.map((v) => `${v.slice(0, 6)}…`) }).toEqual({ where, leaked: [] });
    }
  });
});
