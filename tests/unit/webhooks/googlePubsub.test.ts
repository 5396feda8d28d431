import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isSyncBridgeError } from '../../../shared/core/errors';
import { verifyWebhook, type GooglePubsubWebhookOptions } from '../../../shared/webhooks';
import { jwksOf, newRsaKey, signHs256, signRs256, unsignedToken } from './support/tokens';

const NOW = 1_800_000_000;
const AUDIENCE = 'https://sync.example.com/api/webhooks/google/conn_1';
const EMAIL = 'pubsub-push@my-project.iam.gserviceaccount.com';
const googleKey = newRsaKey('google-key-1');
const otherKey = newRsaKey('google-key-1'); // same kid, different key: a forger's guess

// The claims Google puts in a Pub/Sub push token (cloud.google.com/pubsub/docs/authenticate-push-subscriptions).
const claims = (overrides: Record<string, unknown> = {}) => ({
  aud: AUDIENCE,
  azp: '113774264463038321964',
  email: EMAIL,
  email_verified: true,
  exp: NOW + 3600,
  iat: NOW,
  iss: 'https://accounts.google.com',
  sub: '113774264463038321964',
  ...overrides,
});

const body = JSON.stringify({ message: { data: 'eyJpZCI6MX0=', messageId: '2070443601311540', publishTime: '2021-02-26T19:13:55.749Z' }, subscription: 'projects/p/subscriptions/s' });

const options = (overrides: Partial<GooglePubsubWebhookOptions> = {}): GooglePubsubWebhookOptions => ({
  jwks: jwksOf(googleKey),
  audience: AUDIENCE,
  email: EMAIL,
  ...overrides,
});

const verify = (authorization: string | undefined, secret: GooglePubsubWebhookOptions = options(), now = NOW) =>
  verifyWebhook('google-pubsub', {
    secret,
    method: 'POST',
    url: AUDIENCE,
    headers: authorization === undefined ? {} : { Authorization: authorization },
    rawBody: body,
    now,
  });

describe('google-pubsub', () => {
  it('accepts a push whose OIDC token Google signed for our audience and service account', async () => {
    await expect(verify(`Bearer ${signRs256(googleKey, claims())}`)).resolves.toEqual({ valid: true });
    await expect(verify(`Bearer ${signRs256(googleKey, claims({ iss: 'accounts.google.com' }))}`)).resolves.toEqual({ valid: true });
  });

  it('rejects a token signed by a key that is not among the JWKS', async () => {
    const result = await verify(`Bearer ${signRs256(otherKey, claims())}`);
    expect(result).toEqual({ valid: false, reason: 'The token in the Authorization header has a signature that does not verify.' });
  });

  it('rejects another audience, issuer, service account or an unverified email', async () => {
    await expect(verify(`Bearer ${signRs256(googleKey, claims({ aud: 'https://elsewhere.example.com' }))}`)).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('audience') });
    await expect(verify(`Bearer ${signRs256(googleKey, claims({ iss: 'https://evil.example.com' }))}`)).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('issuer') });
    await expect(verify(`Bearer ${signRs256(googleKey, claims({ email: 'someone@else.iam.gserviceaccount.com' }))}`)).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('service account') });
    await expect(verify(`Bearer ${signRs256(googleKey, claims({ email_verified: false }))}`)).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('verified email') });
  });

  it('rejects an expired token, a token without exp, and one issued in the future', async () => {
    await expect(verify(`Bearer ${signRs256(googleKey, claims({ exp: NOW - 1 }))}`)).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('expired') });
    const { exp: _exp, ...noExp } = claims();
    await expect(verify(`Bearer ${signRs256(googleKey, noExp)}`)).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('no exp') });
    await expect(verify(`Bearer ${signRs256(googleKey, claims({ iat: NOW + 600 }))}`)).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('future') });
  });

  it('refuses algorithm tricks: none, and HS256 keyed with the public key', async () => {
    await expect(verify(`Bearer ${unsignedToken(claims())}`)).resolves.toMatchObject({ valid: false });
    const publicPem = JSON.stringify(googleKey.publicJwk);
    await expect(verify(`Bearer ${signHs256(publicPem, claims())}`)).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('HS256') });
  });

  it('rejects a missing, malformed or duplicated Authorization header', async () => {
    await expect(verify(undefined)).resolves.toEqual({ valid: false, reason: 'The Authorization header is missing.' });
    await expect(verify(`Basic ${signRs256(googleKey, claims())}`)).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('malformed') });
    await expect(verify('Bearer not.a.jwt!')).resolves.toMatchObject({ valid: false });
    const token = `Bearer ${signRs256(googleKey, claims())}`;
    await expect(
      verifyWebhook('google-pubsub', { secret: options(), method: 'POST', url: AUDIENCE, headers: { authorization: [token, token] }, rawBody: body, now: NOW }),
    ).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('more than once') });
  });

  it('accepts the new key after Google rotates (both keys published)', async () => {
    const next = newRsaKey('google-key-2');
    const rotated = options({ jwks: jwksOf(googleKey, next) });
    await expect(verify(`Bearer ${signRs256(next, claims())}`, rotated)).resolves.toEqual({ valid: true });
    await expect(verify(`Bearer ${signRs256(next, claims())}`)).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('google-key-2') });
  });

  it('requires an audience in its options', async () => {
    const error = await verify('Bearer x', { jwks: jwksOf(googleKey) } as GooglePubsubWebhookOptions).catch((caught: unknown) => caught);
    expect(isSyncBridgeError(error, 'configuration')).toBe(true);
    expect((error as Error).message).toContain('"audience"');
  });

  describe('with keys fetched from a jwks_uri (a loopback server standing in for Google)', () => {
    let server: Server;
    let fetches = 0;
    let published = jwksOf(googleKey);
    let jwksUri = '';

    beforeAll(async () => {
      server = createServer((_request, response) => {
        fetches += 1;
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(published));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/v3/certs`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('fetches the keys once and serves later verifications from the cache', async () => {
      const remote = { jwksUri, audience: AUDIENCE, email: EMAIL };
      const token = `Bearer ${signRs256(googleKey, claims())}`;
      await expect(verify(token, remote)).resolves.toEqual({ valid: true });
      await expect(verify(token, remote)).resolves.toEqual({ valid: true });
      await expect(verify(`Bearer ${signRs256(otherKey, claims())}`, remote)).resolves.toMatchObject({ valid: false });
      expect(fetches).toBe(1);
    });

    it('does not refetch on every unknown kid (a forged kid cannot flood the provider)', async () => {
      const before = fetches;
      published = jwksOf(googleKey, newRsaKey('google-key-9'));
      for (let i = 0; i < 5; i += 1) {
        await verify(`Bearer ${signRs256(newRsaKey(`forged-${i}`, 2048), claims())}`, { jwksUri, audience: AUDIENCE });
      }
      expect(fetches - before).toBe(0);
    });
  });
});
