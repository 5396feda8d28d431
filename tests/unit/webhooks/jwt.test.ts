import { isSyncBridgeError } from '../../../shared/core/errors';
import { verifyWebhook, type JwtWebhookOptions } from '../../../shared/webhooks';
import { jwksOf, newEcKey, newRsaKey, signEs256, signHs256, signRs256, unsignedToken } from './support/tokens';

const NOW = 1_800_000_000;
const verify = (headers: Record<string, string>, secret: JwtWebhookOptions) =>
  verifyWebhook('jwt', { secret, method: 'POST', url: '/api/webhooks/custom/c1', headers, rawBody: '{}', now: NOW });

describe('jwt', () => {
  const claims = { iss: 'https://sender.example.com', aud: 'syncbridge', exp: NOW + 60 };

  it('verifies HS256 tokens with rotated shared secrets', async () => {
    const options = { secrets: ['old-shared', 'new-shared'], audience: 'syncbridge', issuer: 'https://sender.example.com' };
    await expect(verify({ Authorization: `Bearer ${signHs256('new-shared', claims)}` }, options)).resolves.toEqual({ valid: true });
    await expect(verify({ Authorization: `Bearer ${signHs256('old-shared', claims, 'HS512')}` }, options)).resolves.toEqual({ valid: true });
    await expect(verify({ Authorization: `Bearer ${signHs256('retired', claims)}` }, options)).resolves.toMatchObject({ valid: false });
  });

  it('verifies RS256 and ES256 tokens against a JWKS', async () => {
    const rsa = newRsaKey('r1');
    const ec = newEcKey('e1');
    const options = { jwks: jwksOf(rsa, ec), audience: 'syncbridge' };
    await expect(verify({ Authorization: `Bearer ${signRs256(rsa, claims)}` }, options)).resolves.toEqual({ valid: true });
    await expect(verify({ Authorization: `Bearer ${signEs256(ec, claims)}` }, options)).resolves.toEqual({ valid: true });
  });

  it('reads the token from a configured header, without an auth scheme', async () => {
    const options = { secret: 'shared', header: 'X-Webhook-Token' };
    await expect(verify({ 'x-webhook-token': signHs256('shared', claims) }, options)).resolves.toEqual({ valid: true });
    await expect(verify({ Authorization: `Bearer ${signHs256('shared', claims)}` }, options)).resolves.toEqual({
      valid: false,
      reason: 'The X-Webhook-Token header is missing.',
    });
  });

  it('refuses alg none, algorithms outside the list, RSA keys under 2048 bits and tokens without exp', async () => {
    await expect(verify({ Authorization: `Bearer ${unsignedToken(claims)}` }, { secret: 'shared' })).resolves.toMatchObject({ valid: false });
    const noneWithSignature = `${unsignedToken(claims)}AAAA`;
    await expect(verify({ Authorization: `Bearer ${noneWithSignature}` }, { secret: 'shared' })).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('"none"') });
    await expect(verify({ Authorization: `Bearer ${signHs256('shared', claims, 'HS384')}` }, { secret: 'shared', algorithms: ['HS256'] })).resolves.toMatchObject({ valid: false });
    const weak = newRsaKey('weak', 1024);
    await expect(verify({ Authorization: `Bearer ${signRs256(weak, claims)}` }, { jwks: jwksOf(weak) })).resolves.toEqual({
      valid: false,
      reason: 'The token in the Authorization header names a key that cannot be used for RS256: RS256 requires key modulusLength to be 2048 bits or larger.',
    });
    await expect(verify({ Authorization: `Bearer ${signHs256('shared', { aud: 'x' })}` }, { secret: 'shared' })).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('no exp') });
    await expect(verify({ Authorization: `Bearer ${signHs256('shared', { aud: 'x' })}` }, { secret: 'shared', requireExpiration: false })).resolves.toEqual({ valid: true });
  });

  it('rejects a token that is not yet valid, honouring clock tolerance', async () => {
    const early = signHs256('shared', { ...claims, nbf: NOW + 30 });
    await expect(verify({ Authorization: `Bearer ${early}` }, { secret: 'shared' })).resolves.toMatchObject({ valid: false });
    await expect(verify({ Authorization: `Bearer ${early}` }, { secret: 'shared', clockToleranceSeconds: 60 })).resolves.toEqual({ valid: true });
  });

  it('rejects a token whose payload was edited after signing', async () => {
    const [header, , signature] = signHs256('shared', claims).split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, aud: 'admin' })).toString('base64url');
    await expect(verify({ Authorization: `Bearer ${header}.${forgedPayload}.${signature}` }, { secret: 'shared' })).resolves.toMatchObject({ valid: false });
  });

  it('fails at configuration when it has no key at all, or an algorithm its keys cannot check', async () => {
    for (const bad of [{} as JwtWebhookOptions, { secret: 'shared', algorithms: ['RS256'] }, { jwks: { keys: [] } }]) {
      const error = await verify({ Authorization: 'Bearer a.b.c' }, bad).catch((caught: unknown) => caught);
      expect(isSyncBridgeError(error, 'configuration')).toBe(true);
    }
  });
});
