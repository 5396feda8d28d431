import { generateKeyPairSync, sign } from 'node:crypto';
import { verifyWebhook } from '../../../shared/webhooks';
import { hmacBase64 } from './support/signers';

// standard-webhooks/standard-webhooks libraries/javascript/src/webhook.test.ts ("sign function works").
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const MSG_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TIMESTAMP = 1614265330;
const PAYLOAD = '{"test": 2432232314}';
const SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

const headers = (signature = SIGNATURE, id = MSG_ID, timestamp = TIMESTAMP) => ({
  'webhook-id': id,
  'webhook-timestamp': String(timestamp),
  'webhook-signature': signature,
});

const verify = (scheme: 'standard-webhooks' | 'svix', h: Record<string, string>, secret: unknown = SECRET, rawBody = PAYLOAD, now = TIMESTAMP) =>
  verifyWebhook(scheme, { secret: secret as string, method: 'POST', url: '/api/webhooks/x/c1', headers: h, rawBody, now });

describe('standard-webhooks', () => {
  it("verifies the reference library's signature vector, with and without the whsec_ prefix", async () => {
    await expect(verify('standard-webhooks', headers())).resolves.toEqual({ valid: true });
    await expect(verify('standard-webhooks', headers(), 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).resolves.toEqual({ valid: true });
  });

  it('accepts a multi-signature header with unknown versions and one valid v1 (reference test "multi sig payload")', async () => {
    const sigs = ['v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=', 'v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=', SIGNATURE].join(' ');
    await expect(verify('standard-webhooks', headers(sigs))).resolves.toEqual({ valid: true });
  });

  it('rejects invalid and partial signatures (reference tests)', async () => {
    await expect(verify('standard-webhooks', headers('v1,dawfeoifkpqwoekfpqoekf'))).resolves.toMatchObject({ valid: false });
    await expect(verify('standard-webhooks', headers(SIGNATURE.slice(0, 8)))).resolves.toMatchObject({ valid: false });
    await expect(verify('standard-webhooks', headers('v1,'))).resolves.toMatchObject({ valid: false });
  });

  it('rejects a header carrying only signatures of another version', async () => {
    const result = await verify('standard-webhooks', headers(SIGNATURE.replace('v1,', 'v2,')));
    expect(result).toEqual({ valid: false, reason: 'The webhook-signature header carries no v1 or v1a signature.' });
  });

  it('rejects a missing id or an id holding a dot (the spec forbids it)', async () => {
    const { 'webhook-id': _id, ...noId } = headers();
    await expect(verify('standard-webhooks', noId)).resolves.toEqual({ valid: false, reason: 'The webhook-id header is missing.' });
    await expect(verify('standard-webhooks', headers(SIGNATURE, 'msg.1'))).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('webhook-id') });
  });

  it('rejects an invalid timestamp (reference test "hello")', async () => {
    const result = await verify('standard-webhooks', { ...headers(), 'webhook-timestamp': 'hello' });
    expect(result).toEqual({ valid: false, reason: 'The webhook-timestamp header is malformed: expected unix seconds.' });
  });

  it('verifies v1a (Ed25519) signatures against a whpk_ public key', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    const whpk = `whpk_${raw.toString('base64')}`;
    const now = 1_800_000_000;
    const body = '{"type":"contact.created"}';
    const signature = sign(null, Buffer.from(`msg_a.${now}.${body}`), privateKey).toString('base64');
    const h = headers(`v1a,${signature}`, 'msg_a', now);
    await expect(verify('standard-webhooks', h, { publicKeys: [whpk] }, body, now)).resolves.toEqual({ valid: true });
    await expect(verify('standard-webhooks', h, [SECRET, whpk], body, now)).resolves.toEqual({ valid: true });
    await expect(verify('standard-webhooks', h, { publicKeys: [whpk] }, `${body} `, now)).resolves.toMatchObject({ valid: false });
    const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!;
    await expect(verify('standard-webhooks', h, { publicKeys: [`whpk_${Buffer.from(other, 'base64url').toString('base64')}`] }, body, now)).resolves.toMatchObject({ valid: false });
    // A v1a signature is no use against an HMAC secret.
    await expect(verify('standard-webhooks', h, SECRET, body, now)).resolves.toMatchObject({ valid: false });
  });
});

describe('svix', () => {
  const svixHeaders = { 'svix-id': MSG_ID, 'svix-timestamp': String(TIMESTAMP), 'svix-signature': SIGNATURE };

  it('verifies the same vector under svix-* header names', async () => {
    await expect(verify('svix', svixHeaders)).resolves.toEqual({ valid: true });
  });

  it('accepts the unbranded webhook-* names too', async () => {
    await expect(verify('svix', headers())).resolves.toEqual({ valid: true });
  });

  it('never mixes header families: svix-id with webhook-signature is missing svix-signature', async () => {
    const mixed = { 'svix-id': MSG_ID, 'svix-timestamp': String(TIMESTAMP), 'webhook-signature': SIGNATURE };
    await expect(verify('svix', mixed)).resolves.toEqual({ valid: false, reason: 'The svix-signature header is missing.' });
  });

  it('signs id and timestamp: a changed id does not verify', async () => {
    const signature = `v1,${hmacBase64('sha256', Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'), `msg_other.${TIMESTAMP}.${PAYLOAD}`)}`;
    await expect(verify('svix', { ...svixHeaders, 'svix-signature': signature })).resolves.toMatchObject({ valid: false });
  });
});
