import { createHmac } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import { isSyncBridgeError } from '../../../shared/core/errors';
import { verifyWebhook, type JSONWebKeySet, type JwtWebhookOptions } from '../../../shared/webhooks';
import { jwksOf, newRsaKey, signHs256, signRs256 } from './support/tokens';

const NOW = 1_800_000_000;
const verify = (token: string, secret: JwtWebhookOptions) =>
  verifyWebhook('jwt', { secret, method: 'POST', url: '/api/webhooks/custom/c1', headers: { Authorization: `Bearer ${token}` }, rawBody: '{}', now: NOW });

interface JoseKey {
  alg: string;
  kid: string;
  privateKey: KeyLike;
  publicJwk: JWK;
}

async function joseKey(alg: string, kid: string, options: { crv?: string } = {}): Promise<JoseKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, options);
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, use: 'sig' } };
}

const joseSigned = (key: JoseKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
  new SignJWT({ aud: 'syncbridge', ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header })
    .setIssuedAt(NOW)
    .setExpirationTime(NOW + 60)
    .sign(key.privateKey);

const setOf = (...keys: JoseKey[]): JSONWebKeySet => ({ keys: keys.map((key) => key.publicJwk) as JSONWebKeySet['keys'] });

describe('jwt with jose-signed tokens', () => {
  let keys: Record<string, JoseKey>;

  beforeAll(async () => {
    const list = await Promise.all([
      joseKey('RS512', 'rs512'),
      joseKey('PS256', 'ps256'),
      joseKey('ES384', 'es384'),
      joseKey('ES512', 'es512'),
      joseKey('EdDSA', 'ed25519', { crv: 'Ed25519' }),
    ]);
    keys = Object.fromEntries(list.map((key) => [key.kid, key]));
  });

  it('verifies every asymmetric family the scheme allows by default: RS, PS, ES and EdDSA', async () => {
    const options = { jwks: setOf(...Object.values(keys)), audience: 'syncbridge' };
    for (const key of Object.values(keys)) {
      await expect(verify(await joseSigned(key), options)).resolves.toEqual({ valid: true });
    }
  });

  it('checks a token only with keys of its own type: an ES384 header on an Ed25519 signature finds no key', async () => {
    const options = { jwks: setOf(keys.ed25519), audience: 'syncbridge' };
    const relabelled = await joseSigned(keys.ed25519, {}, { alg: 'EdDSA', kid: 'ed25519' });
    const [, payload, signature] = relabelled.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'ES384', kid: 'ed25519' })).toString('base64url');
    await expect(verify(`${header}.${payload}.${signature}`, options)).resolves.toEqual({
      valid: false,
      reason: 'The token in the Authorization header names key "ed25519", which is not among the signing keys.',
    });
  });

  it('tries each key when a token names no kid and several keys fit it', async () => {
    const first = newRsaKey('a');
    const second = newRsaKey('b');
    const noKid = (key: typeof first) => signRs256(key, { aud: 'syncbridge', exp: NOW + 60 }, { kid: undefined });
    const options = { jwks: jwksOf(first, second), audience: 'syncbridge' };
    await expect(verify(noKid(first), options)).resolves.toEqual({ valid: true });
    await expect(verify(noKid(second), options)).resolves.toEqual({ valid: true });
    await expect(verify(noKid(newRsaKey('c')), options)).resolves.toEqual({
      valid: false,
      reason: 'The token in the Authorization header has a signature that does not verify.',
    });
  });

  it('refuses algorithms outside an explicit allow-list even when the key would verify them', async () => {
    const options = { jwks: setOf(keys.ps256, keys.rs512), algorithms: ['PS256'] };
    await expect(verify(await joseSigned(keys.ps256), options)).resolves.toEqual({ valid: true });
    await expect(verify(await joseSigned(keys.rs512), options)).resolves.toEqual({
      valid: false,
      reason: 'The token in the Authorization header uses algorithm "RS512", which is not accepted.',
    });
  });

  it('never offers a shared secret to an asymmetric token, nor a key set to an HMAC token', async () => {
    const both = { secret: 'shared', jwks: setOf(keys.rs512) };
    await expect(verify(signHs256('shared', { exp: NOW + 60 }), both)).resolves.toEqual({ valid: true });
    await expect(verify(await joseSigned(keys.rs512), both)).resolves.toEqual({ valid: true });
    // HS256 keyed with the RSA key's public JWK, as a forger who read the JWKS would try.
    const confused = signHs256(JSON.stringify(keys.rs512.publicJwk), { exp: NOW + 60 });
    await expect(verify(confused, both)).resolves.toEqual({
      valid: false,
      reason: 'The token in the Authorization header is not signed by any configured secret.',
    });
  });

  it('rejects a token whose signature has padding or a stray character appended', async () => {
    const token = signHs256('shared', { exp: NOW + 60 });
    await expect(verify(token, { secret: 'shared' })).resolves.toEqual({ valid: true });
    for (const suffix of ['=', '==', '!', '.', '%']) {
      await expect(verify(`${token}${suffix}`, { secret: 'shared' })).resolves.toMatchObject({
        valid: false,
        reason: expect.stringContaining('not a compact JWT'),
      });
    }
  });

  it('rejects critical header extensions it does not understand, and unencoded payloads', async () => {
    const signWithHeader = (header: Record<string, unknown>) => {
      const input = `${Buffer.from(JSON.stringify({ alg: 'HS256', ...header })).toString('base64url')}.${Buffer.from(JSON.stringify({ exp: NOW + 60 })).toString('base64url')}`;
      return `${input}.${createHmac('sha256', 'shared').update(input).digest('base64url')}`;
    };
    await expect(verify(signWithHeader({ crit: ['urn:example:must-understand'], 'urn:example:must-understand': true }), { secret: 'shared' })).resolves.toEqual({
      valid: false,
      reason: 'The token in the Authorization header uses something that is not supported: Extension Header Parameter "urn:example:must-understand" is not recognized.',
    });
    await expect(verify(signWithHeader({ crit: ['b64'], b64: false }), { secret: 'shared' })).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('not a well-formed JWT') });
    await expect(verify(signWithHeader({ typ: 'JWT' }), { secret: 'shared' })).resolves.toEqual({ valid: true });
  });

  it('names the expiry, the clock tolerance and a malformed claim in its reasons', async () => {
    const expired = signHs256('shared', { exp: NOW - 90 });
    await expect(verify(expired, { secret: 'shared' })).resolves.toEqual({
      valid: false,
      reason: 'The token in the Authorization header expired 90 seconds ago.',
    });
    await expect(verify(expired, { secret: 'shared', clockToleranceSeconds: 120 })).resolves.toEqual({ valid: true });
    await expect(verify(signHs256('shared', { exp: NOW }), { secret: 'shared' })).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('expired 0 seconds ago') });
    await expect(verify(signHs256('shared', { exp: String(NOW + 60) }), { secret: 'shared' })).resolves.toEqual({
      valid: false,
      reason: 'The token in the Authorization header has a malformed exp claim.',
    });
    await expect(verify(signHs256('shared', { exp: NOW + 60, iss: 'https://other.example.com' }), { secret: 'shared', issuer: 'https://sender.example.com' })).resolves.toEqual({
      valid: false,
      reason: 'The token in the Authorization header has issuer "https://other.example.com", which is not accepted.',
    });
    await expect(verify(signHs256('shared', { exp: NOW + 60 }), { secret: 'shared', audience: 'syncbridge' })).resolves.toEqual({
      valid: false,
      reason: 'The token in the Authorization header has no aud claim.',
    });
  });

  it('fails at configuration on a key set with only private, symmetric, encryption or unreadable keys', async () => {
    const privateJwk = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
    const sets: JSONWebKeySet[] = [
      { keys: [privateJwk] } as JSONWebKeySet,
      { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } as JSONWebKeySet,
      { keys: [{ ...keys.rs512.publicJwk, use: 'enc' }] } as JSONWebKeySet,
      { keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }] } as JSONWebKeySet,
    ];
    for (const jwks of sets) {
      const error = await verify('a.b.c', { jwks }).catch((caught: unknown) => caught);
      expect(isSyncBridgeError(error, 'configuration')).toBe(true);
      expect((error as Error).message).toContain('"jwks"');
    }
  });

  it('uses the usable keys of a set and leaves the odd ones out', async () => {
    const mixed = { keys: [{ kty: 'oct', k: 'c2VjcmV0' }, { ...keys.es512.publicJwk }] } as JSONWebKeySet;
    await expect(verify(await joseSigned(keys.es512), { jwks: mixed })).resolves.toEqual({ valid: true });
  });
});
