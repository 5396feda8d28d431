import { InvocationContext, type Timer } from '@azure/functions';
import { tokenRefresherHandler } from '../../functions/tokenRefresher';
import { credentialServiceFor } from '../../shared/core/credentials/registry';
import type { OAuth2Credentials } from '../../shared/core/credentials/credentialService';
import { Harness } from '../support/harness';

const CLIENT = { clientId: 'syncbridge-grants', clientSecret: 'grants-client-secret-5d1e0b' };
const TOKEN_TTL_SECONDS = 4;
/** How long after a client secret is replaced an invalid_client counts as the provider still propagating it (test value; default 10 min). */
const CLIENT_SECRET_GRACE_MS = 5_000;

interface OAuthStats {
  issued: number;
  refreshed: number;
  refreshReuse: number;
  clientCredentials: number;
  errors: Record<string, number>;
}

/**
 * Which grant renews a credential, the refresher's window against short-lived tokens, and the OAuth
 * client secret's rotation, end to end on the real sandbox (access tokens live 4 s; its settings
 * lever stops refresh tokens on the code exchange and rotates the client secret it accepts).
 */
describe('OAuth 2 grants: no refresh token, short-lived tokens, client secret rotation', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 30, oauth: { ...CLIENT, accessTokenTtlSeconds: TOKEN_TTL_SECONDS } } });
    // The host's service (its platform is the services' one), configured before its first use.
    credentialServiceFor(h.services.platform, { clientSecretGraceMs: CLIENT_SECRET_GRACE_MS });
  });
  afterAll(async () => h.close());
  afterEach(async () => {
    await h.sandbox('POST', 'oauth/settings', { clientSecret: CLIENT.clientSecret, issueRefreshTokens: true });
  });

  const oauthConfig = () => ({ authorizeUrl: `${h.sandboxUrl}/oauth/authorize`, tokenUrl: `${h.sandboxUrl}/oauth/token`, clientId: CLIENT.clientId, scopes: ['read'] });

  async function createOAuthConnection(id: string): Promise<void> {
    const created = await h.api('POST', '/api/connections', { id, provider: 'sandbox', entities: ['customers'], config: { baseUrl: h.sandboxUrl, pageSize: 10, oauth: oauthConfig() } });
    expect(created.status).toBe(201);
    expect((await h.api('PUT', `/api/connections/${id}/oauth-client-secret`, { clientSecret: CLIENT.clientSecret })).status).toBe(204);
  }

  async function connect(id: string): Promise<number> {
    const response = await fetch(`${h.hostUrl}/api/connect/sandbox?connection=${id}`, { headers: { 'x-api-key': h.apiKey, accept: 'application/json' } });
    await response.text();
    return response.status;
  }

  const oauthStats = () => h.sandbox<OAuthStats>('GET', 'oauth');
  const status = async (id: string) => (await h.platform.connections.get(id))!.status;
  const versions = async (id: string) => (await h.platform.secrets.listVersions(`connection-${id}-credentials`)).length;

  async function storedCredential(id: string): Promise<OAuth2Credentials> {
    return JSON.parse((await h.platform.secrets.get(`connection-${id}-credentials`))!.value) as OAuth2Credentials;
  }

  /** Waits until the connection's client secret was set longer ago than the grace period. */
  async function pastClientSecretGrace(id: string): Promise<void> {
    const setAt = Date.parse((await h.platform.secrets.get(`connection-${id}-oauth-client-secret`))!.createdAt);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, setAt + CLIENT_SECRET_GRACE_MS + 100 - Date.now())));
  }

  /** Ends the connection's access tokens at the provider, then syncs: the first request meets a 401. */
  async function syncAfter401(id: string) {
    await h.sandbox('POST', 'oauth/expire', { all: true });
    return h.waitForRun(await h.startSync('full', id), 30_000);
  }

  test('http token and authorize URLs outside loopback are refused at create (400 naming the setting); the sandbox on http://127.0.0.1 is accepted', async () => {
    const create = (id: string, extra: Record<string, unknown>) => h.api<{ error: { message: string } }>('POST', '/api/connections', { id, provider: 'sandbox', entities: ['customers'], config: { baseUrl: h.sandboxUrl }, ...extra });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ config: { baseUrl: h.sandboxUrl, oauth: { ...oauthConfig(), tokenUrl: 'http://example.com/oauth/token' } } }, /config\.oauth\.tokenUrl of connection plain-token must be an https URL: http is allowed for loopback hosts only/],
      [{ config: { baseUrl: h.sandboxUrl, oauth: { ...oauthConfig(), authorizeUrl: 'http://example.com/oauth/authorize' } } }, /config\.oauth\.authorizeUrl of connection plain-authorize must be an https URL/],
      [{ credentials: { type: 'oauth2', accessToken: 'at', refreshToken: 'rt', tokenUrl: 'http://example.com/oauth/token', clientId: CLIENT.clientId } }, /credentials\.tokenUrl must be an https URL/],
    ];
    for (const [index, [extra, message]] of cases.entries()) {
      const id = ['plain-token', 'plain-authorize', 'plain-credential'][index];
      const refused = await create(id, extra);
      expect(refused.status).toBe(400);
      expect(refused.body.error.message).toMatch(message);
      expect(await h.platform.connections.get(id)).toBeUndefined();
    }
    expect((await create('https-oauth', { config: { baseUrl: h.sandboxUrl, oauth: { ...oauthConfig(), tokenUrl: 'https://example.com/oauth/token', authorizeUrl: 'https://example.com/oauth/authorize' } } })).status).toBe(201);
    expect((await create('loopback-oauth', { config: { baseUrl: h.sandboxUrl, oauth: oauthConfig() } })).status).toBe(201);
  });

  test('a user token issued without a refresh token is never renewed with the client-credentials grant: after a 401 the connection needs reauthorization', async () => {
    await h.sandbox('POST', 'oauth/settings', { issueRefreshTokens: false }); // Entra ID without offline_access, a GitHub OAuth app
    await createOAuthConnection('no-refresh');
    expect(await connect('no-refresh')).toBe(200);
    const before = await oauthStats();

    // The timer meets a token inside its window that nothing can renew: it leaves it alone while it works.
    expect(await credentialServiceFor(h.platform).refreshExpiring(600_000)).toMatchObject({ failed: 0 });
    expect(await status('no-refresh')).toBe('active');

    const run = await syncAfter401('no-refresh');
    expect(run.state).toBe('failed');
    expect(run.lastError).toMatch(/needs reauthorization: its access token expired and the provider issued no refresh token/);
    expect(await status('no-refresh')).toBe('reauthorization_required');
    const after = await oauthStats();
    expect(after.clientCredentials).toBe(before.clientCredentials); // no app-only token in the user's place
    expect(after.issued).toBe(before.issued); // the token endpoint was not called at all
    expect(await versions('no-refresh')).toBe(1);
    const stored = await storedCredential('no-refresh');
    expect(stored).toMatchObject({ grant: 'authorization_code' });
    expect(stored.refreshToken).toBeUndefined();
    expect(stored.clientSecret).toBeUndefined(); // read from its own secret at refresh time
    expect(h.telemetryLines.some((line) => line.includes('"ConnectionReauthorizationRequired"') && line.includes('no-refresh'))).toBe(true);

    // Connecting again (now with a refresh token) heals it.
    await h.sandbox('POST', 'oauth/settings', { issueRefreshTokens: true });
    expect(await connect('no-refresh')).toBe(200);
    expect((await syncAfter401('no-refresh')).state).toBe('done');
  });

  test('credentials stored before the grant was recorded: a connect-flow one without a refresh token is parked, an admin-API client-credentials one is renewed with its grant', async () => {
    // The connect flow's document before this change: the client secret copied in, no refresh token, no grant.
    await createOAuthConnection('legacy-user');
    const user = (await h.platform.connections.get('legacy-user'))!;
    const userToken = await credentialServiceFor(h.platform).oauth.clientCredentials({ tokenUrl: `${h.sandboxUrl}/oauth/token`, ...CLIENT }); // any live token
    await h.platform.secrets.set(`connection-legacy-user-credentials`, JSON.stringify({ type: 'oauth2', accessToken: userToken.accessToken, expiresAt: new Date(Date.now() + 4000).toISOString(), tokenUrl: `${h.sandboxUrl}/oauth/token`, ...CLIENT }));
    await h.platform.connections.update({ ...user, credentialRef: 'connection-legacy-user-credentials' });
    const before = await oauthStats();
    await expect(credentialServiceFor(h.platform).ensureFresh('legacy-user', { staleAccessToken: userToken.accessToken })).rejects.toMatchObject({ code: 'auth_failed' });
    expect(await status('legacy-user')).toBe('reauthorization_required');
    expect((await oauthStats()).clientCredentials).toBe(before.clientCredentials);

    // Stored whole through the admin API before the field existed: a client secret, no refresh token, no connect flow.
    const appToken = await credentialServiceFor(h.platform).oauth.clientCredentials({ tokenUrl: `${h.sandboxUrl}/oauth/token`, ...CLIENT });
    const legacyApp = { type: 'oauth2', accessToken: appToken.accessToken, expiresAt: new Date(Date.now() + 4000).toISOString(), tokenUrl: `${h.sandboxUrl}/oauth/token`, ...CLIENT };
    expect((await h.api('POST', '/api/connections', { id: 'legacy-app', provider: 'sandbox', entities: ['customers'], config: { baseUrl: h.sandboxUrl, pageSize: 10 }, credentials: { type: 'none' } })).status).toBe(201);
    await h.platform.secrets.set('connection-legacy-app-credentials', JSON.stringify(legacyApp));
    await h.platform.connections.update({ ...(await h.platform.connections.get('legacy-app'))!, credentialRef: 'connection-legacy-app-credentials' });
    const beforeApp = await oauthStats();
    expect((await syncAfter401('legacy-app')).state).toBe('done');
    expect((await oauthStats()).clientCredentials).toBe(beforeApp.clientCredentials + 1);
    expect(await storedCredential('legacy-app')).toMatchObject({ grant: 'client_credentials' }); // recorded from then on
  });

  test('through the admin API an OAuth credential is a user authorization unless it says client_credentials', async () => {
    const tokenUrl = `${h.sandboxUrl}/oauth/token`;
    const create = (id: string, credentials: Record<string, unknown>) =>
      h.api('POST', '/api/connections', { id, provider: 'sandbox', entities: ['customers'], config: { baseUrl: h.sandboxUrl, pageSize: 10 }, credentials: { type: 'oauth2', tokenUrl, ...CLIENT, ...credentials } });
    const token = async () => (await credentialServiceFor(h.platform).oauth.clientCredentials({ tokenUrl, ...CLIENT })).accessToken;
    expect((await create('api-app-nosecret', { accessToken: 'x', clientSecret: undefined, grant: 'client_credentials' })).status).toBe(400);

    expect((await create('api-user', { accessToken: await token() })).status).toBe(201);
    expect(await storedCredential('api-user')).toMatchObject({ grant: 'authorization_code' });
    expect((await create('api-app', { accessToken: await token(), grant: 'client_credentials' })).status).toBe(201);
    const before = await oauthStats();
    const user = await syncAfter401('api-user');
    expect(user.state).toBe('failed');
    expect(await status('api-user')).toBe('reauthorization_required');
    expect((await syncAfter401('api-app')).state).toBe('done');
    expect((await oauthStats()).clientCredentials).toBe(before.clientCredentials + 1);
  });

  test('a refresher window longer than the token lifetime does not spend a refresh token on every tick', async () => {
    await createOAuthConnection('short-lived');
    expect(await connect('short-lived')).toBe(200);
    const context = new InvocationContext({ functionName: 'tokenRefresher' });
    const before = await oauthStats();
    // The default window is 600 s; these tokens live 4 s. Ticks within the first half of the lifetime leave it alone.
    for (let tick = 0; tick < 3; tick += 1) await tokenRefresherHandler({} as Timer, context);
    expect(await versions('short-lived')).toBe(1);
    // Past half its lifetime, a tick refreshes it once, and the next tick leaves the new token alone.
    await new Promise((resolve) => setTimeout(resolve, (TOKEN_TTL_SECONDS / 2) * 1000 + 300));
    await tokenRefresherHandler({} as Timer, context);
    await tokenRefresherHandler({} as Timer, context);
    expect(await versions('short-lived')).toBe(2);
    const after = await oauthStats();
    expect(after.refreshReuse).toBe(before.refreshReuse);
  });

  test('a rotated OAuth client secret is used by the next refresh; a secret the provider retired parks the connection until a new one is set', async () => {
    await createOAuthConnection('rotate');
    expect(await connect('rotate')).toBe(200);
    // The operator rotates the secret, and the provider retires the old one at once.
    expect((await h.api('PUT', '/api/connections/rotate/oauth-client-secret', { clientSecret: 'rotated-secret-2' })).status).toBe(204);
    await h.sandbox('POST', 'oauth/settings', { clientSecret: 'rotated-secret-2' });
    const before = await oauthStats();
    expect((await syncAfter401('rotate')).state).toBe('done');
    const afterRotation = await oauthStats();
    expect(afterRotation.refreshed).toBeGreaterThan(before.refreshed);
    expect(afterRotation.errors.invalid_client ?? 0).toBe(before.errors.invalid_client ?? 0);

    // The provider retires that one too before the operator sets the next: invalid_client, asked
    // once. Past the grace period after the secret was set, so no provider lag can explain it.
    await pastClientSecretGrace('rotate');
    await h.sandbox('POST', 'oauth/settings', { clientSecret: 'rotated-secret-3' });
    const run = await syncAfter401('rotate');
    expect(run.state).toBe('failed');
    expect(run.lastError).toMatch(/needs reauthorization: the provider refused the refresh_token grant \(invalid_client\)/);
    expect(await status('rotate')).toBe('reauthorization_required');
    const refused = (await oauthStats()).errors.invalid_client ?? 0;
    expect(refused).toBe((afterRotation.errors.invalid_client ?? 0) + 1);
    // Parked: not asked again by later refreshes (the sandbox's counters are global, and the other
    // connections' tokens have expired by now, so this asks for this connection alone).
    for (let tick = 0; tick < 2; tick += 1) await expect(credentialServiceFor(h.services.platform).ensureFresh('rotate', { minValidityMs: 600_000 })).rejects.toMatchObject({ code: 'auth_failed' });
    expect((await oauthStats()).errors.invalid_client ?? 0).toBe(refused);

    // Setting the new secret is all it takes: the refresh token is still good.
    expect((await h.api('PUT', '/api/connections/rotate/oauth-client-secret', { clientSecret: 'rotated-secret-3' })).status).toBe(204);
    expect(await status('rotate')).toBe('active');
    expect((await syncAfter401('rotate')).state).toBe('done');
    expect((await oauthStats()).refreshReuse).toBe(0);
  });

  test('a provider slow to accept a rotated client secret: its invalid_client within the grace period is tried again once, when the grace ends, not parked; later it parks as before', async () => {
    await createOAuthConnection('slow-secret');
    expect(await connect('slow-secret')).toBe(200);
    // The operator sets the new secret; the provider still accepts only the old one for a while.
    expect((await h.api('PUT', '/api/connections/slow-secret/oauth-client-secret', { clientSecret: 'slow-secret-2' })).status).toBe(204);
    const refusals = async () => (await oauthStats()).errors.invalid_client ?? 0;
    const before = await refusals();
    await h.sandbox('POST', 'oauth/expire', { all: true });
    const runId = await h.startSync('full', 'slow-secret');
    // The step's refresh meets invalid_client: transient, due again when the grace period ends.
    await h.waitFor('the refresh within the grace period to be refused', async () => (await refusals()) > before);
    await expect(credentialServiceFor(h.services.platform).ensureFresh('slow-secret', { minValidityMs: 600_000 })).rejects.toMatchObject({ code: 'transient', retryAt: expect.any(Date) });
    expect(await status('slow-secret')).toBe('active');
    // The provider takes the new secret before the grace ends: the run's one retry then works.
    await h.sandbox('POST', 'oauth/settings', { clientSecret: 'slow-secret-2' });
    expect((await h.waitForRun(runId, 30_000)).state).toBe('done');
    // Two refusals in all (the step's and the direct call's): nothing hammered the token endpoint meanwhile.
    expect((await refusals()) - before).toBe(2);
    expect(await status('slow-secret')).toBe('active');

    // The provider has propagated the new secret: the next refresh works, nothing to do for anyone.
    await h.sandbox('POST', 'oauth/settings', { clientSecret: 'slow-secret-2' });
    expect((await syncAfter401('slow-secret')).state).toBe('done');
    expect((await oauthStats()).refreshReuse).toBe(0);

    // Past the grace period an invalid_client is the secret's fault again: parked after one refusal.
    await pastClientSecretGrace('slow-secret');
    await h.sandbox('POST', 'oauth/settings', { clientSecret: 'slow-secret-3' });
    const lateBefore = await refusals();
    const late = await syncAfter401('slow-secret');
    expect(late.state).toBe('failed');
    expect(late.lastError).toMatch(/needs reauthorization: the provider refused the refresh_token grant \(invalid_client\)/);
    expect(await status('slow-secret')).toBe('reauthorization_required');
    expect(await refusals()).toBe(lateBefore + 1);
  });

  test('a credential from before the change, with the client secret copied in, is refreshed with the rotated secret too', async () => {
    await createOAuthConnection('rotate-legacy');
    expect(await connect('rotate-legacy')).toBe(200);
    // What the connect flow stored before: the client secret copied into the document, no grant.
    const { grant: _grant, ...legacy } = await storedCredential('rotate-legacy');
    await h.platform.secrets.set('connection-rotate-legacy-credentials', JSON.stringify({ ...legacy, clientSecret: CLIENT.clientSecret }));
    expect((await h.api('PUT', '/api/connections/rotate-legacy/oauth-client-secret', { clientSecret: 'rotated-legacy-2' })).status).toBe(204);
    await h.sandbox('POST', 'oauth/settings', { clientSecret: 'rotated-legacy-2' });
    expect((await syncAfter401('rotate-legacy')).state).toBe('done');
    expect(await status('rotate-legacy')).toBe('active');
    expect(await storedCredential('rotate-legacy')).toMatchObject({ grant: 'authorization_code' });
  });
});
