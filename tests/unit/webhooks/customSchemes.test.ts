import { isSyncBridgeError } from '../../../shared/core/errors';
import { checkWebhookOptions, verifyWebhook } from '../../../shared/webhooks';
import { hmacBase64, hmacHex } from './support/signers';

const verify = (scheme: 'hmac' | 'bearer' | 'basic', secret: unknown, headers: Record<string, string>, rawBody = '{"a":1}') =>
  verifyWebhook(scheme, { secret: secret as never, method: 'POST', url: '/api/webhooks/custom/c1', headers, rawBody, now: 1_800_000_000 });

describe('hmac (custom sender)', () => {
  it('verifies each algorithm and encoding, with and without a prefix', async () => {
    for (const algorithm of ['sha1', 'sha256', 'sha512'] as const) {
      const hex = hmacHex(algorithm, 'k', '{"a":1}');
      const b64 = hmacBase64(algorithm, 'k', '{"a":1}');
      await expect(verify('hmac', { secret: 'k', header: 'X-Sig', algorithm, encoding: 'hex' }, { 'X-Sig': hex })).resolves.toEqual({ valid: true });
      await expect(verify('hmac', { secret: 'k', header: 'X-Sig', algorithm, encoding: 'base64', prefix: `${algorithm}=` }, { 'X-Sig': `${algorithm}=${b64}` })).resolves.toEqual({ valid: true });
    }
  });

  it('rejects a signature without its configured prefix, or in the other encoding', async () => {
    const options = { secret: 'k', header: 'X-Sig', algorithm: 'sha256', encoding: 'hex', prefix: 'sha256=' };
    await expect(verify('hmac', options, { 'X-Sig': hmacHex('sha256', 'k', '{"a":1}') })).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('start with') });
    await expect(verify('hmac', options, { 'X-Sig': `sha256=${hmacBase64('sha256', 'k', '{"a":1}')}` })).resolves.toMatchObject({ valid: false });
  });

  it('rejects a signature of a weaker algorithm than configured', async () => {
    const options = { secret: 'k', header: 'X-Sig', algorithm: 'sha256', encoding: 'hex' };
    await expect(verify('hmac', options, { 'X-Sig': hmacHex('sha1', 'k', '{"a":1}') })).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('malformed') });
  });

  it('fails at configuration with a message naming the bad option', () => {
    const cases: Array<[unknown, string]> = [
      ['just-a-string', '"secret"'],
      [{ secret: 'k', algorithm: 'sha256', encoding: 'hex' }, '"header"'],
      [{ secret: 'k', header: 'X', algorithm: 'md5', encoding: 'hex' }, '"algorithm"'],
      [{ secret: 'k', header: 'X', algorithm: 'sha256', encoding: 'base32' }, '"encoding"'],
      [{ header: 'X', algorithm: 'sha256', encoding: 'hex' }, '"secret"'],
      [{ secret: 'k', header: 'X', algorithm: 'sha256', encoding: 'hex', toleranceSeconds: -1 }, '"toleranceSeconds"'],
    ];
    for (const [secret, option] of cases) {
      let caught: unknown;
      try {
        checkWebhookOptions('hmac', secret as never);
      } catch (error) {
        caught = error;
      }
      expect(isSyncBridgeError(caught, 'configuration')).toBe(true);
      expect((caught as Error).message).toContain(option);
    }
  });
});

describe('bearer', () => {
  it('accepts the token in a custom header without the Bearer word', async () => {
    await expect(verify('bearer', { secret: 'tok', header: 'X-Hook-Token' }, { 'x-hook-token': 'tok' })).resolves.toEqual({ valid: true });
  });

  it('rejects a prefix or extension of the token (no length leak, no partial match)', async () => {
    for (const given of ['to', 'tokk', 'tok x', 'TOK']) {
      await expect(verify('bearer', 'tok', { Authorization: `Bearer ${given}` })).resolves.toMatchObject({ valid: false });
    }
  });

  it('accepts any case of the Bearer word (RFC 9110) but not another scheme', async () => {
    await expect(verify('bearer', 'tok', { Authorization: 'bearer tok' })).resolves.toEqual({ valid: true });
    await expect(verify('bearer', 'tok', { Authorization: 'Token tok' })).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('Bearer') });
  });
});

describe('basic', () => {
  const header = (text: string) => ({ Authorization: `Basic ${Buffer.from(text).toString('base64')}` });

  it('accepts credentials given as options or as user:password strings', async () => {
    await expect(verify('basic', { username: 'hook', password: 'p@ss:word' }, header('hook:p@ss:word'))).resolves.toEqual({ valid: true });
    await expect(verify('basic', { credentials: [{ username: 'a', password: '1' }, { username: 'b', password: '2' }] }, header('b:2'))).resolves.toEqual({ valid: true });
  });

  it('rejects a right password for the wrong user, and malformed credentials', async () => {
    await expect(verify('basic', 'hook:pw', header('other:pw'))).resolves.toMatchObject({ valid: false });
    await expect(verify('basic', 'hook:pw', header('hookpw'))).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('malformed') });
    await expect(verify('basic', 'hook:pw', { Authorization: 'Basic !!!' })).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('malformed') });
  });
});

describe('verifyWebhook configuration', () => {
  it('rejects an unknown scheme as a configuration error', async () => {
    const error = await verifyWebhook('gitlab' as never, { secret: 'x', method: 'POST', url: '/', headers: {}, rawBody: '' }).catch((caught: unknown) => caught);
    expect(isSyncBridgeError(error, 'configuration')).toBe(true);
    expect((error as Error).message).toContain('"gitlab"');
  });

  it('rejects an empty secret list for schemes that need one', async () => {
    const error = await verifyWebhook('github', { secret: [], method: 'POST', url: '/', headers: {}, rawBody: '' }).catch((caught: unknown) => caught);
    expect(isSyncBridgeError(error, 'configuration')).toBe(true);
  });
});
