import { isSyncBridgeError } from '../../../shared/core/errors';
import { verifyWebhook } from '../../../shared/webhooks';
import { hmacHex, stripeHeader } from './support/signers';

// stripe-node publishes no fixed vector (test/Webhook.spec.ts signs with generateTestHeaderString);
// these follow its cases with vectors computed by the documented algorithm, secret as in that spec.
const SECRET = 'whsec_test_secret';
const PAYLOAD = JSON.stringify({ id: 'evt_test_webhook', object: 'event' }, null, 2);
const NOW = 1_800_000_000;

const verify = (header: string | string[], now = NOW, secret: unknown = SECRET, rawBody: string = PAYLOAD) =>
  verifyWebhook('stripe', { secret: secret as string, method: 'POST', url: '/api/webhooks/stripe/c1', headers: { 'Stripe-Signature': header }, rawBody, now });

describe('stripe', () => {
  it('accepts a header with a valid v1 signature, the whsec_ secret used as-is', async () => {
    await expect(verify(stripeHeader(SECRET, NOW, PAYLOAD))).resolves.toEqual({ valid: true });
  });

  it('matches a pinned vector computed by the documented algorithm', async () => {
    // HMAC-SHA256("whsec_test_secret", "1800000000." + PAYLOAD), computed once and frozen here.
    expect(stripeHeader(SECRET, NOW, PAYLOAD)).toBe(`t=1800000000,v1=${hmacHex('sha256', SECRET, '1800000000.', PAYLOAD)}`);
    await expect(verify(`t=1800000000,v1=${hmacHex('sha256', Buffer.from(SECRET), `${NOW}.${PAYLOAD}`)}`)).resolves.toEqual({ valid: true });
  });

  it('accepts a header holding several v1 signatures while a secret is rolled (one valid)', async () => {
    const rolled = `t=${NOW},v1=${hmacHex('sha256', 'whsec_old', `${NOW}.`, PAYLOAD)},v1=${hmacHex('sha256', SECRET, `${NOW}.`, PAYLOAD)}`;
    await expect(verify(rolled)).resolves.toEqual({ valid: true });
    // stripe-node: "should return true when the header contains at least one valid signature" (',v1=potato' is malformed here).
    await expect(verify(`${stripeHeader(SECRET, NOW, PAYLOAD)},v1=${'0'.repeat(64)}`)).resolves.toEqual({ valid: true });
  });

  it('ignores v0 signatures and rejects a header that carries only v0', async () => {
    const v0Only = `t=${NOW},v0=${hmacHex('sha256', SECRET, `${NOW}.`, PAYLOAD)}`;
    await expect(verify(v0Only)).resolves.toEqual({ valid: false, reason: 'The Stripe-Signature header carries only v0 signatures; v1 is required.' });
    await expect(verify(`${stripeHeader(SECRET, NOW, PAYLOAD)},v0=${'a'.repeat(64)}`)).resolves.toEqual({ valid: true });
  });

  it('rejects a header that is not key=value pairs (stripe-node: "bad_header")', async () => {
    for (const bad of ['bad_header', "I'm not even a real signature header", `t=${NOW}, v1=${'a'.repeat(64)}`, `t=${NOW},v1=potato`]) {
      await expect(verify(bad)).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('Stripe-Signature header is malformed') });
    }
  });

  it('rejects a header with no timestamp or two timestamps', async () => {
    await expect(verify(`v1=${hmacHex('sha256', SECRET, `${NOW}.`, PAYLOAD)}`)).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('no t=') });
    const joined = `${stripeHeader(SECRET, NOW, PAYLOAD)},${stripeHeader(SECRET, NOW - 5, PAYLOAD)}`;
    await expect(verify(joined)).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('more than once') });
  });

  it('rejects a header array, as stripe-node does', async () => {
    const header = stripeHeader(SECRET, NOW, PAYLOAD);
    await expect(verify([header, header])).resolves.toMatchObject({ valid: false });
  });

  it('rejects timestamps outside 300 seconds either way, and honours toleranceSeconds', async () => {
    await expect(verify(stripeHeader(SECRET, NOW - 301, PAYLOAD))).resolves.toMatchObject({ valid: false });
    await expect(verify(stripeHeader(SECRET, NOW + 301, PAYLOAD))).resolves.toMatchObject({ valid: false });
    await expect(verify(stripeHeader(SECRET, NOW - 15, PAYLOAD), NOW, { secret: SECRET, toleranceSeconds: 10 })).resolves.toMatchObject({ valid: false });
    await expect(verify(stripeHeader(SECRET, NOW - 9, PAYLOAD), NOW, { secret: SECRET, toleranceSeconds: 10 })).resolves.toEqual({ valid: true });
  });

  it('refuses a signing secret with whitespace as a configuration error (stripe-node does too)', async () => {
    const error = await verify(stripeHeader(SECRET, NOW, PAYLOAD), NOW, `${SECRET} `).catch((caught: unknown) => caught);
    expect(isSyncBridgeError(error, 'configuration')).toBe(true);
    expect((error as Error).message).toBe('The stripe webhook option "secret" contains whitespace.');
  });
});
