import type { RunningSandbox } from '../../sandbox/server';
import { control, startTestSandbox } from './sandboxTestClient';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  REDIRECT_URI,
  authorize,
  authorizeAndExchange,
  authorizeParams,
  basicAuth,
  bearerGet,
  newPkce,
  obtainCode,
  tokenRequest,
} from './oauthTestClient';

interface OAuthStats {
  issued: number;
  refreshed: number;
  refreshReuse: number;
  codeReuse: number;
  revokedFamilies: number;
  errors: Record<string, number>;
  bearer: { accepted: number; rejected: number };
}

const oauthOptions = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] };

describe('sandbox OAuth: authorization code with PKCE', () => {
  let sandbox: RunningSandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox({ recordsPerEntity: 20, oauth: oauthOptions });
  });
  afterAll(() => sandbox.close());

  it('redirects with a code and the state, and exchanges the code for working tokens', async () => {
    const { verifier, challenge } = newPkce();
    const redirect = await authorize(sandbox, authorizeParams(challenge, { state: 'xyz-42' }));
    expect(redirect.status).toBe(302);
    const location = new URL(redirect.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('state')).toBe('xyz-42');
    const code = location.searchParams.get('code')!;

    const answer = await tokenRequest(sandbox, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600, refresh_token: expect.any(String), scope: 'read write' });
    const listing = await bearerGet(sandbox, '/v1/customers?limit=2', answer.body.access_token!);
    expect(listing.status).toBe(200);
    expect(((await listing.json()) as { data: unknown[] }).data).toHaveLength(2);
  });

  it('refuses a code_verifier that does not hash to the challenge, and burns the code', async () => {
    const { verifier, challenge } = newPkce();
    const code = await obtainCode(sandbox, challenge);
    const wrong = await tokenRequest(sandbox, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: newPkce().verifier });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual({ error: 'invalid_grant', error_description: expect.stringContaining('PKCE') });
    const right = await tokenRequest(sandbox, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
    expect(right.body.error).toBe('invalid_grant');
  });

  it('treats a second use of a code as an attack: invalid_grant, and the first tokens stop working', async () => {
    const { verifier, challenge } = newPkce();
    const code = await obtainCode(sandbox, challenge);
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier };
    const first = await tokenRequest(sandbox, form);
    expect(first.status).toBe(200);
    const before = await control<OAuthStats>(sandbox, 'GET', 'oauth');
    const second = await tokenRequest(sandbox, form);
    expect(second.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('already used') });
    expect((await control<OAuthStats>(sandbox, 'GET', 'oauth')).codeReuse).toBe(before.codeReuse + 1);
    const revoked = await bearerGet(sandbox, '/v1/customers', first.body.access_token!);
    expect(revoked.status).toBe(401);
    const refresh = await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token! });
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('binds the code to its redirect_uri and client', async () => {
    const { verifier, challenge } = newPkce();
    const code = await obtainCode(sandbox, challenge);
    const otherRedirect = await tokenRequest(sandbox, { grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:9/else', code_verifier: verifier });
    expect(otherRedirect.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('redirect_uri') });
  });

  it.each([
    ['client_id is missing', { client_id: undefined }, 'client_id'],
    ['client_id is unknown', { client_id: 'someone-else' }, 'client_id'],
    ['redirect_uri is missing', { redirect_uri: undefined }, 'redirect_uri'],
    ['redirect_uri is not registered', { redirect_uri: 'http://evil.example/cb' }, 'redirect_uri'],
  ])('answers 400 JSON without redirecting when %s', async (_label, change, parameter) => {
    const params: Record<string, string> = authorizeParams(newPkce().challenge);
    for (const [name, value] of Object.entries(change)) {
      if (value === undefined) delete params[name];
      else params[name] = value;
    }
    const response = await authorize(sandbox, params);
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.json()).toEqual({ error: 'invalid_request', error_description: expect.stringContaining(`'${parameter}'`) });
  });

  it.each([
    ['response_type is token', { response_type: 'token' }, 'unsupported_response_type'],
    ['code_challenge is missing (PKCE is required)', { code_challenge: undefined }, 'invalid_request'],
    ['code_challenge_method is plain', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['code_challenge is malformed', { code_challenge: 'too-short' }, 'invalid_request'],
    ['state is missing', { state: undefined }, 'invalid_request'],
    ['a scope is unknown', { scope: 'read admin' }, 'invalid_scope'],
  ])('redirects back with an RFC 6749 error when %s', async (_label, change, error) => {
    const params: Record<string, string> = authorizeParams(newPkce().challenge);
    for (const [name, value] of Object.entries(change)) {
      if (value === undefined) delete params[name];
      else params[name] = value;
    }
    const response = await authorize(sandbox, params);
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe(error);
    expect(location.searchParams.get('error_description')).toEqual(expect.any(String));
    expect(location.searchParams.get('code')).toBeNull();
    if (params.state) expect(location.searchParams.get('state')).toBe(params.state);
  });

  it('refuses a repeated parameter', async () => {
    const query = `${new URLSearchParams(authorizeParams(newPkce().challenge))}&scope=read&scope=write`;
    const response = await fetch(`${sandbox.url}/oauth/authorize?${query}`, { redirect: 'manual' });
    expect(new URL(response.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });

  it('describes itself at /.well-known/oauth-authorization-server', async () => {
    const metadata = (await (await fetch(`${sandbox.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ token_endpoint: `${sandbox.url}/oauth/token`, code_challenge_methods_supported: ['S256'] });
  });
});

describe('sandbox OAuth: client credentials and client authentication', () => {
  let sandbox: RunningSandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox({ recordsPerEntity: 20, oauth: oauthOptions });
  });
  afterAll(() => sandbox.close());

  it('issues an access token without a refresh token, to HTTP Basic or to credentials in the body', async () => {
    const basic = await tokenRequest(sandbox, { grant_type: 'client_credentials', scope: 'read' });
    expect(basic.status).toBe(200);
    expect(basic.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600, scope: 'read' });
    const inBody = await tokenRequest(sandbox, { grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET }, null);
    expect(inBody.status).toBe(200);
    expect((await bearerGet(sandbox, '/v1/products/prd_0000001', inBody.body.access_token!)).status).toBe(200);
  });

  it('answers 401 invalid_client with a Basic challenge for a wrong secret or an unknown client', async () => {
    for (const auth of [basicAuth(CLIENT_ID, 'wrong'), basicAuth('nobody', CLIENT_SECRET)]) {
      const answer = await tokenRequest(sandbox, { grant_type: 'client_credentials' }, auth);
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe('invalid_client');
      expect(answer.headers.get('www-authenticate')).toContain('Basic');
    }
    const none = await tokenRequest(sandbox, { grant_type: 'client_credentials' }, null);
    expect(none.body.error).toBe('invalid_client');
  });

  it.each([
    [{ grant_type: 'password' }, 'unsupported_grant_type'],
    [{}, 'invalid_request'],
    [{ grant_type: 'client_credentials', client_secret: CLIENT_SECRET }, 'invalid_request'],
    [{ grant_type: 'client_credentials', scope: 'admin' }, 'invalid_scope'],
    [{ grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT_URI }, 'invalid_request'],
    [{ grant_type: 'refresh_token', refresh_token: 'sbx_rt_unknown' }, 'invalid_grant'],
  ])('answers 400 %j with %s', async (form, error) => {
    const answer = await tokenRequest(sandbox, form as Record<string, string>);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error, error_description: expect.any(String) });
  });

  it('accepts only form-encoded POSTs', async () => {
    const json = await fetch(`${sandbox.url}/oauth/token`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: basicAuth() }, body: '{"grant_type":"client_credentials"}' });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { error: string }).error).toBe('invalid_request');
    const get = await fetch(`${sandbox.url}/oauth/token`);
    expect(get.status).toBe(405);
  });

  it('refuses writes to a token without the write scope, and allows them with it', async () => {
    const readOnly = await tokenRequest(sandbox, { grant_type: 'client_credentials', scope: 'read' });
    const denied = await fetch(`${sandbox.url}/v1/customers`, { method: 'POST', headers: { Authorization: `Bearer ${readOnly.body.access_token}` }, body: '{"email":"a@example.com"}' });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    const readWrite = await tokenRequest(sandbox, { grant_type: 'client_credentials' });
    const created = await fetch(`${sandbox.url}/v1/customers`, { method: 'POST', headers: { Authorization: `Bearer ${readWrite.body.access_token}` }, body: '{"email":"a@example.com"}' });
    expect(created.status).toBe(201);
  });

  it('answers 401 invalid_token for an unknown or malformed Bearer token, and still takes X-Api-Key', async () => {
    const unknown = await bearerGet(sandbox, '/v1/customers', 'sbx_at_made_up');
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    expect(((await unknown.json()) as { error: string }).error).toContain('unknown');
    const basic = await fetch(`${sandbox.url}/v1/customers`, { headers: { Authorization: 'Basic abc' } });
    expect(basic.status).toBe(401);
    const apiKey = await fetch(`${sandbox.url}/v1/customers?limit=1`, { headers: { 'X-Api-Key': sandbox.apiKey } });
    expect(apiKey.status).toBe(200);
    const stats = await control<OAuthStats>(sandbox, 'GET', 'oauth');
    expect(stats.bearer.rejected).toBeGreaterThanOrEqual(1);
    expect(stats.errors.invalid_client).toBeGreaterThanOrEqual(1);
  });

  it('the settings lever rotates the accepted client secret and turns refresh tokens off on the code exchange, until reset', async () => {
    expect(await control(sandbox, 'POST', 'oauth/settings', { clientSecret: 'rotated-sandbox-secret', issueRefreshTokens: false })).toEqual({ issueRefreshTokens: false, clientSecretRotated: true });
    expect((await tokenRequest(sandbox, { grant_type: 'client_credentials' })).body).toMatchObject({ error: 'invalid_client' }); // the old secret is retired
    const fresh = await tokenRequest(sandbox, { grant_type: 'client_credentials' }, basicAuth(CLIENT_ID, 'rotated-sandbox-secret'));
    expect(fresh.status).toBe(200);
    const { verifier, challenge } = newPkce();
    const code = await obtainCode(sandbox, challenge);
    const exchanged = await tokenRequest(sandbox, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }, basicAuth(CLIENT_ID, 'rotated-sandbox-secret'));
    expect(exchanged.status).toBe(200);
    expect(exchanged.body.refresh_token).toBeUndefined();
    await expect(control(sandbox, 'POST', 'oauth/settings', { clientSecret: '' })).rejects.toThrow(/400/);
    await expect(control(sandbox, 'POST', 'oauth/settings', { issueRefreshTokens: 'no' })).rejects.toThrow(/400/);
    await control(sandbox, 'POST', 'reset');
    expect((await tokenRequest(sandbox, { grant_type: 'client_credentials' })).status).toBe(200);
  });
});

describe('sandbox OAuth: expiry, rotation and reuse detection', () => {
  let sandbox: RunningSandbox;
  beforeEach(async () => {
    sandbox = await startTestSandbox({ recordsPerEntity: 20, oauth: { ...oauthOptions, accessTokenTtlSeconds: 2, authorizationCodeTtlSeconds: 1 } });
  });
  afterEach(() => sandbox.close());

  it('expires access tokens and codes after their TTL', async () => {
    const tokens = await authorizeAndExchange(sandbox);
    expect(tokens.expires_in).toBe(2);
    const { verifier, challenge } = newPkce();
    const code = await obtainCode(sandbox, challenge);
    expect((await bearerGet(sandbox, '/v1/orders?limit=1', tokens.access_token!)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const expired = await bearerGet(sandbox, '/v1/orders?limit=1', tokens.access_token!);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(((await expired.json()) as { error: string }).error).toContain('expired');
    const late = await tokenRequest(sandbox, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
    expect(late.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('expired') });
    // The refresh token outlives the access token.
    const refreshed = await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(refreshed.status).toBe(200);
    expect((await bearerGet(sandbox, '/v1/orders?limit=1', refreshed.body.access_token!)).status).toBe(200);
  });

  it('rotates refresh tokens: each refresh returns a new one and spends the old one', async () => {
    const first = await authorizeAndExchange(sandbox);
    const second = await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).toEqual(expect.any(String));
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect(second.body.access_token).not.toBe(first.access_token);
    const third = await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token! });
    expect(third.status).toBe(200);
    const stats = await control<OAuthStats>(sandbox, 'GET', 'oauth');
    expect(stats).toMatchObject({ issued: 3, refreshed: 2, refreshReuse: 0 });
  });

  it('counts a spent refresh token as reuse and revokes the whole family', async () => {
    const first = await authorizeAndExchange(sandbox);
    const rotated = await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    expect(rotated.status).toBe(200);

    const reused = await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    expect(reused.status).toBe(400);
    expect(reused.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('already used') });
    const stats = await control<OAuthStats>(sandbox, 'GET', 'oauth');
    expect(stats).toMatchObject({ refreshReuse: 1, revokedFamilies: 1 });

    // The legitimate holder's newer tokens are gone too: the provider cannot tell who is who.
    const newer = await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: rotated.body.refresh_token! });
    expect(newer.body.error).toBe('invalid_grant');
    expect((await bearerGet(sandbox, '/v1/customers', rotated.body.access_token!)).status).toBe(401);
    // An unrelated authorization is untouched.
    const other = await authorizeAndExchange(sandbox);
    expect((await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: other.refresh_token! })).status).toBe(200);
  });

  it('lets two concurrent refreshes with one token win once and count the loser as reuse', async () => {
    const tokens = await authorizeAndExchange(sandbox);
    const answers = await Promise.all([1, 2].map(() => tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 400]);
    expect((await control<OAuthStats>(sandbox, 'GET', 'oauth')).refreshReuse).toBe(1);
  });

  it('forces invalid_grant and invalid_token through the control API', async () => {
    const a = await authorizeAndExchange(sandbox);
    const b = await authorizeAndExchange(sandbox);
    expect(await control(sandbox, 'POST', 'oauth/revoke', { refreshToken: a.refresh_token })).toEqual({ revokedFamilies: 1 });
    expect((await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: a.refresh_token! })).body.error).toBe('invalid_grant');
    expect((await control<OAuthStats>(sandbox, 'GET', 'oauth')).refreshReuse).toBe(0);

    const fresh = await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: b.refresh_token! });
    expect(await control(sandbox, 'POST', 'oauth/expire', { accessToken: fresh.body.access_token })).toEqual({ expiredAccessTokens: 1 });
    expect((await bearerGet(sandbox, '/v1/customers', fresh.body.access_token!)).status).toBe(401);

    expect(await control(sandbox, 'POST', 'oauth/revoke', { all: true })).toEqual({ revokedFamilies: 1 });
    expect((await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: fresh.body.refresh_token! })).body.error).toBe('invalid_grant');
    const bad = await fetch(`${sandbox.url}/_sandbox/oauth/revoke`, { method: 'POST', body: '{"all":false}' });
    expect(bad.status).toBe(400);
  });

  it('refuses every token request with an echo of its credentials while the echo lever is on, spending nothing', async () => {
    const tokens = await authorizeAndExchange(sandbox);
    expect(await control(sandbox, 'POST', 'oauth/echo', { refuseWith: 'invalid_grant' })).toEqual({ refuseWith: 'invalid_grant' });
    const echoed = await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(echoed.status).toBe(400);
    expect(echoed.body.error).toBe('invalid_grant');
    const description = echoed.body.error_description!;
    expect(description.indexOf(CLIENT_SECRET)).toBeLessThan(60);
    expect(description.indexOf(tokens.refresh_token!)).toBeLessThan(200);
    expect(description).toContain(basicAuth());
    expect(await control(sandbox, 'POST', 'oauth/echo', { refuseWith: null })).toEqual({ refuseWith: null });
    // Nothing was spent: the same refresh token still works, and no reuse was counted.
    expect((await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! })).status).toBe(200);
    expect(await control<OAuthStats>(sandbox, 'GET', 'oauth')).toMatchObject({ refreshReuse: 0, errors: { invalid_grant: 1 } });
    const bad = await fetch(`${sandbox.url}/_sandbox/oauth/echo`, { method: 'POST', body: '{"refuseWith":"nope"}' });
    expect(bad.status).toBe(400);
  });

  it('keeps the refresh token when rotation is off', async () => {
    const plain = await startTestSandbox({ recordsPerEntity: 5, oauth: { ...oauthOptions, refreshTokenRotation: false } });
    try {
      const tokens = await authorizeAndExchange(plain);
      for (let i = 0; i < 2; i++) {
        const again = await tokenRequest(plain, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
        expect(again.status).toBe(200);
        expect(again.body.refresh_token).toBeUndefined();
      }
    } finally {
      await plain.close();
    }
  });
});

describe('sandbox without the oauth option', () => {
  it('answers 404 on /oauth and 401 to Bearer tokens', async () => {
    const sandbox = await startTestSandbox({ recordsPerEntity: 5 });
    try {
      expect((await fetch(`${sandbox.url}/oauth/token`, { method: 'POST' })).status).toBe(404);
      const bearer = await bearerGet(sandbox, '/v1/customers', 'anything');
      expect(bearer.status).toBe(401);
      expect(await control(sandbox, 'GET', 'oauth')).toEqual({ enabled: false });
    } finally {
      await sandbox.close();
    }
  });
});
