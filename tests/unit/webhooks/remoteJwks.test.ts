import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
import { isSyncBridgeError } from '../../../shared/core/errors';
import { RemoteJwksCache, verifyWebhook } from '../../../shared/webhooks';
import { jwksOf, newRsaKey, signRs256, type TestSigningKey } from './support/tokens';

const NOW = 1_800_000_000;
const AUDIENCE = 'https://sync.example.com/api/webhooks/google/c1';
const claims = { aud: AUDIENCE, iss: 'https://accounts.google.com', email: 'push@p.iam.gserviceaccount.com', email_verified: true, exp: NOW + 600, iat: NOW };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A loopback stand-in for a provider's jwks_uri whose answer each test sets. */
class KeyServer {
  fetches = 0;
  respond: (response: ServerResponse) => void = (response) => response.writeHead(500).end();
  private server?: Server;

  async start(): Promise<string> {
    this.server = createServer((_request: IncomingMessage, response) => {
      this.fetches += 1;
      this.respond(response);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/keys`;
  }

  publish(...keys: TestSigningKey[]): void {
    this.respond = (response) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwksOf(...keys)));
  }

  stop(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const verifyGoogle = (jwksUri: string, token: string) =>
  verifyWebhook('google-pubsub', {
    secret: { jwksUri, audience: AUDIENCE },
    method: 'POST',
    url: AUDIENCE,
    headers: { Authorization: `Bearer ${token}` },
    rawBody: '{}',
    now: NOW,
  });

describe('remote signing keys', () => {
  const key = newRsaKey('k1');
  let server: KeyServer;
  let uri: string;

  beforeEach(async () => {
    server = new KeyServer();
    uri = await server.start();
  });
  afterEach(() => server.stop());

  it('rejects with the fetch failure when the provider answers 500, and does not retry within the cooldown', async () => {
    const token = signRs256(key, claims);
    for (let i = 0; i < 3; i += 1) {
      await expect(verifyGoogle(uri, token)).resolves.toEqual({
        valid: false,
        reason: `The signing keys at ${uri} could not be fetched: Expected 200 OK from the JSON Web Key Set HTTP response.`,
      });
    }
    expect(server.fetches).toBe(1);
  });

  it('rejects when the endpoint serves something that is not a key set', async () => {
    server.respond = (response) => response.writeHead(200, { 'content-type': 'application/json' }).end('{"certs":[]}');
    await expect(verifyGoogle(uri, signRs256(key, claims))).resolves.toEqual({
      valid: false,
      reason: `The signing keys at ${uri} could not be fetched: JSON Web Key Set malformed.`,
    });
  });

  it('rejects when nothing listens at the jwks_uri', async () => {
    await server.stop();
    await expect(verifyGoogle(uri, signRs256(key, claims))).resolves.toMatchObject({
      valid: false,
      reason: expect.stringMatching(/^The signing keys at .* could not be fetched: .*ECONNREFUSED/),
    });
  });

  it('gives up on a fetch after fetchTimeoutMs with a transient error', async () => {
    server.respond = () => undefined; // never answers
    const cache = new RemoteJwksCache({ fetchTimeoutMs: 100 });
    const started = Date.now();
    const error = await jwtVerify(signRs256(key, claims), cache.keySetFor(uri), { currentDate: new Date(NOW * 1000) }).catch((caught: unknown) => caught);
    expect(isSyncBridgeError(error, 'transient')).toBe(true);
    expect((error as Error).message).toBe(`The signing keys at ${uri} could not be fetched: request timed out.`);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('keeps verifying with the keys it holds when a refetch of stale keys fails', async () => {
    const cache = new RemoteJwksCache({ maxAgeMs: 50, cooldownMs: 500 });
    const verifyWithCache = () => jwtVerify(signRs256(key, claims), cache.keySetFor(uri), { currentDate: new Date(NOW * 1000) });
    server.publish(key);
    await expect(verifyWithCache()).resolves.toMatchObject({ payload: { aud: AUDIENCE } });
    server.respond = (response) => response.writeHead(503).end();
    await sleep(80);
    await expect(verifyWithCache()).resolves.toMatchObject({ payload: { aud: AUDIENCE } });
    expect(server.fetches).toBe(2);
    await expect(verifyWithCache()).resolves.toMatchObject({ payload: { aud: AUDIENCE } });
    expect(server.fetches).toBe(2); // the failed refetch is not retried until the cooldown passes
    server.publish(key);
    await sleep(550);
    await expect(verifyWithCache()).resolves.toMatchObject({ payload: { aud: AUDIENCE } });
    expect(server.fetches).toBe(3);
  });

  it('picks up a rotated key on an unknown kid once the cooldown has passed', async () => {
    const cache = new RemoteJwksCache({ cooldownMs: 400 });
    const next = newRsaKey('k2');
    const verifyWithCache = (signer: TestSigningKey) => jwtVerify(signRs256(signer, claims), cache.keySetFor(uri), { currentDate: new Date(NOW * 1000) });
    server.publish(key);
    await expect(verifyWithCache(key)).resolves.toBeDefined();
    server.publish(key, next);
    await expect(verifyWithCache(next)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' }); // inside the cooldown
    expect(server.fetches).toBe(1);
    await sleep(450);
    await expect(verifyWithCache(next)).resolves.toBeDefined();
    expect(server.fetches).toBe(2);
  });

  it('refuses bad cache options and a jwks_uri that is neither https nor loopback', () => {
    for (const options of [{ maxAgeMs: 0 }, { cooldownMs: -1 }, { fetchTimeoutMs: Number.NaN }]) {
      expect(() => new RemoteJwksCache(options)).toThrow(expect.objectContaining({ code: 'configuration' }));
    }
    expect(() => new RemoteJwksCache().keySetFor('http://keys.example.com/certs')).toThrow(/https URL/);
  });
});
