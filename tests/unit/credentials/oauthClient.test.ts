import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isInvalidGrant, isUnusableRefreshAnswer, OAuthClient, OAuthGrantError } from '../../../shared/core/credentials/oauthClient';
import { oauthUrlProblem } from '../../../shared/core/credentials/oauthUrl';
import { s256Challenge } from '../../../shared/core/credentials/pkce';
import { startSandbox, type RunningSandbox } from '../../../sandbox/server';

const CLIENT = { clientId: 'unit-client', clientSecret: 'unit-secret-a1b2c3d4' };

/** A token endpoint of our own on loopback, for answers the sandbox never gives. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/token`, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

describe('OAuthClient against token endpoints on loopback', () => {
  let sandbox: RunningSandbox;
  let tokenUrl: string;
  const client = new OAuthClient({ timeoutMs: 500 });

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, recordsPerEntity: 1, oauth: { ...CLIENT, accessTokenTtlSeconds: 60 } });
    tokenUrl = `${sandbox.url}/oauth/token`;
  });
  afterAll(async () => sandbox.close());

  test('the S256 challenge is unpadded base64url of SHA-256 (checked with WebCrypto)', async () => {
    const verifier = 'dBjftJeZ4CVP-mJ92K9tQyrRXU5gJtGZ0rwWeY2cuN8';
    const digest = Buffer.from(await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
    expect(s256Challenge(verifier)).toBe(digest.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
    expect(s256Challenge(verifier)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test('client_credentials gives an access token with its lifetime and no refresh token', async () => {
    const tokens = await client.clientCredentials({ tokenUrl, ...CLIENT }, 'read');
    expect(tokens).toMatchObject({ expiresInSeconds: 60, scope: 'read' });
    expect(tokens.accessToken).toMatch(/^sbx_at/);
    expect(tokens.refreshToken).toBeUndefined();
  });

  test('a wrong client secret is invalid_client, and the message carries no secret', async () => {
    const error = await client.clientCredentials({ tokenUrl, clientId: CLIENT.clientId, clientSecret: 'not-the-secret-9z' }).catch((e) => e);
    expect(error).toBeInstanceOf(OAuthGrantError);
    expect(error).toMatchObject({ code: 'auth_failed', oauthError: 'invalid_client', status: 401 });
    expect(error.message).not.toContain('not-the-secret-9z');
    expect(isInvalidGrant(error)).toBe(false);
  });

  test('an unknown refresh token is invalid_grant, and the message does not echo it', async () => {
    const error = await client.refresh({ tokenUrl, ...CLIENT }, 'sbx_rt_made_up_value').catch((e) => e);
    expect(isInvalidGrant(error)).toBe(true);
    expect(error.message).toMatch(/invalid_grant/);
    expect(error.message).not.toContain('sbx_rt_made_up_value');
  });

  test('a code exchange with a wrong verifier is invalid_grant', async () => {
    const authorize = new URL(`${sandbox.url}/oauth/authorize`);
    const verifier = 'v'.repeat(43);
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: CLIENT.clientId, redirect_uri: 'http://127.0.0.1:1/cb', state: 's', code_challenge: s256Challenge(verifier), code_challenge_method: 'S256' })) authorize.searchParams.set(k, v);
    const redirect = await fetch(authorize, { redirect: 'manual' });
    const code = new URL(redirect.headers.get('location')!).searchParams.get('code')!;
    const error = await client.exchangeCode({ tokenUrl, ...CLIENT }, { code, redirectUri: 'http://127.0.0.1:1/cb', codeVerifier: 'w'.repeat(43) }).catch((e) => e);
    expect(isInvalidGrant(error)).toBe(true);
  });

  test('client id and secret are form-encoded before Basic (RFC 6749 §2.3.1); the body is form-encoded', async () => {
    let seen: { authorization?: string; type?: string; body?: string } = {};
    const server = await serve((req, res, body) => {
      seen = { authorization: req.headers.authorization, type: req.headers['content-type'], body };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ access_token: 'at', token_type: 'bearer', expires_in: '30', refresh_token: 'rt' }));
    });
    try {
      const tokens = await client.refresh({ tokenUrl: server.url, clientId: 'id with space', clientSecret: 'p&ss' }, 'r t');
      expect(tokens).toEqual({ accessToken: 'at', refreshToken: 'rt', expiresInSeconds: 30, scope: undefined });
      expect(Buffer.from(seen.authorization!.replace('Basic ', ''), 'base64').toString()).toBe('id+with+space:p%26ss');
      expect(seen.type).toBe('application/x-www-form-urlencoded');
      expect(new URLSearchParams(seen.body)).toEqual(new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'r t' }));
    } finally {
      await server.close();
    }
  });

  test('a refusal whose error_description echoes the request leaks none of it: secret, refresh token, code, verifier', async () => {
    const secret = 'se+cr/et &x-9f2c';
    const refreshToken = 'rt_echoed_7Qm2Vx9Lk3Pz';
    const server = await serve((req, res, body) => {
      // A provider that quotes the request back: the secret as it decoded it, the form body, the header.
      const decodedSecret = decodeURIComponent(Buffer.from(req.headers.authorization!.slice(6), 'base64').toString().split(':')[1].replace(/\+/g, ' '));
      res.statusCode = 400;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ error: body.includes('refresh_token=') ? 'invalid_grant' : `bad_${decodedSecret}`, error_description: `Refused. secret=${decodedSecret}; ${body}; ${req.headers.authorization}` }));
    });
    const identity = { tokenUrl: server.url, clientId: 'echo-client', clientSecret: secret };
    const basic = Buffer.from(`echo-client:${new URLSearchParams({ s: secret }).toString().slice(2)}`).toString('base64');
    try {
      const refused = (await client.refresh(identity, refreshToken).catch((e: unknown) => e)) as OAuthGrantError;
      expect(isInvalidGrant(refused)).toBe(true);
      expect(refused.message).toMatch(/refused the refresh_token grant with invalid_grant \(HTTP 400\): Refused\. secret=\*\*\*; grant_type=refresh_token&refresh_token=\*\*\*; Basic \*\*\*/);
      for (const value of [secret, encodeURIComponent(secret), refreshToken, basic]) expect(refused.message).not.toContain(value);

      const code = 'code_echoed_Hq8sW2';
      const verifier = 'v'.repeat(20) + 'echoedVerifier' + 'v'.repeat(20);
      const exchange = (await client.exchangeCode(identity, { code, redirectUri: 'http://127.0.0.1:1/cb', codeVerifier: verifier }).catch((e: unknown) => e)) as OAuthGrantError;
      expect(exchange.oauthError).toBe('bad_***'); // even the error code is the provider's text
      for (const value of [secret, code, verifier, basic]) {
        expect(exchange.message).not.toContain(value);
        expect(exchange.oauthError).not.toContain(value);
      }
      expect(exchange.message).toContain('grant_type=authorization_code&code=***');
    } finally {
      await server.close();
    }
  });

  test('5xx, bodies without a token, non-Bearer tokens, timeouts and refused connections are classified', async () => {
    let answer: (res: ServerResponse) => void = () => undefined;
    const server = await serve((_req, res) => answer(res));
    const identity = { tokenUrl: server.url, clientId: 'c', clientSecret: 's' };
    try {
      answer = (res) => { res.statusCode = 503; res.end('down'); };
      await expect(client.clientCredentials(identity)).rejects.toMatchObject({ code: 'transient', status: 503 });
      answer = (res) => res.end('{"token_type":"Bearer"}');
      await expect(client.clientCredentials(identity)).rejects.toMatchObject({ code: 'transient', message: expect.stringMatching(/without an access_token/) });
      answer = (res) => res.end('{"access_token":"x","token_type":"mac"}');
      await expect(client.clientCredentials(identity)).rejects.toMatchObject({ code: 'provider_rejected' });
      // Throttled or timed out at the endpoint: tried again later, never an auth failure.
      answer = (res) => { res.statusCode = 429; res.setHeader('retry-after', '7'); res.end('<html>slow down</html>'); };
      const throttledAt = Date.now();
      const throttled = (await client.clientCredentials(identity).then(() => undefined, (error: unknown) => error)) as { code: string; status: number; retryAt: Date };
      expect(throttled).toMatchObject({ code: 'rate_limited', status: 429 });
      expect(throttled.retryAt.getTime() - throttledAt).toBeGreaterThanOrEqual(6_000);
      answer = (res) => { res.statusCode = 408; res.end(''); };
      await expect(client.clientCredentials(identity)).rejects.toMatchObject({ code: 'transient', status: 408 });
      answer = (res) => { res.statusCode = 400; res.end('<html>nope</html>'); };
      await expect(client.clientCredentials(identity)).rejects.toMatchObject({ code: 'auth_failed', oauthError: 'invalid_response' });
      answer = () => undefined; // never answers
      await expect(client.clientCredentials(identity)).rejects.toMatchObject({ code: 'transient', message: expect.stringMatching(/within 500 ms/) });
    } finally {
      await server.close();
    }
    await expect(client.clientCredentials(identity)).rejects.toMatchObject({ code: 'transient' });
    await expect(client.clientCredentials({ ...identity, tokenUrl: 'ftp://x' })).rejects.toMatchObject({ code: 'configuration' });
    expect(() => new OAuthClient({ timeoutMs: 0 })).toThrow(/timeoutMs/);
  });

  test('a refresh answered 200 without an access_token hands back the refresh token it carried; other grants, and answers without one, throw', async () => {
    let answer = '{"token_type":"Bearer","refresh_token":"rt_rotated"}';
    const server = await serve((_req, res) => res.end(answer));
    const identity = { tokenUrl: server.url, ...CLIENT };
    try {
      const refreshed = await client.refresh(identity, 'rt_old');
      expect(isUnusableRefreshAnswer(refreshed) && refreshed).toMatchObject({ refreshToken: 'rt_rotated', unusable: { code: 'transient', message: expect.stringMatching(/without an access_token/) } });
      await expect(client.clientCredentials(identity)).rejects.toMatchObject({ code: 'transient' });
      answer = '{"token_type":"Bearer"}';
      await expect(client.refresh(identity, 'rt_old')).rejects.toMatchObject({ code: 'transient' }); // nothing to keep
    } finally {
      await server.close();
    }
  });

  test('http token URLs are refused outside loopback before anything is sent; loopback hosts may use http', async () => {
    for (const tokenUrl of ['http://example.com/oauth/token', 'http://10.0.0.7/token', 'http://127.0.0.1.example.com/token', 'http://[::2]/token']) {
      const error = (await client.refresh({ ...CLIENT, tokenUrl }, 'rt_never_sent').catch((e: unknown) => e)) as Error;
      expect(error).toMatchObject({ code: 'configuration', message: expect.stringMatching(/tokenUrl.*must be an https URL: http is allowed for loopback hosts only/) });
      expect(error.message).not.toContain('rt_never_sent');
    }
    for (const url of ['http://127.0.0.1:1/t', 'http://127.9.8.7:1/t', 'http://localhost:1/t', 'http://[::1]:1/t', 'https://example.com/t']) expect(oauthUrlProblem(url)).toBeUndefined();
    for (const url of ['http://example.com/t', 'ftp://127.0.0.1/t', 'not a url', 'http://localhost.example.com/t']) expect(oauthUrlProblem(url)).toBeDefined();
  });
});
