import { verifyWebhook } from '../../../shared/webhooks';

const verify = (headers: Record<string, string>, rawBody: string, secret = 'test_secret_key') =>
  verifyWebhook('shopify', { secret, method: 'POST', url: '/api/webhooks/shopify/c1', headers, rawBody });

describe('shopify', () => {
  it('verifies the shopify-api-js test vector', async () => {
    // Shopify/shopify-api-js packages/shopify-api/lib/webhooks/__tests__/validate.test.ts: body '{"foo": "bar"}',
    // apiSecretKey 'test_secret_key' (lib/__tests__/test-helper.ts), hmac B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=.
    const headers = { 'X-Shopify-Hmac-Sha256': 'B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=', 'X-Shopify-Topic': 'products/create' };
    await expect(verify(headers, '{"foo": "bar"}')).resolves.toEqual({ valid: true });
    await expect(verify(headers, '{"foo":"bar"}')).resolves.toMatchObject({ valid: false });
  });

  it('rejects a hex signature where base64 is expected', async () => {
    const headers = { 'X-Shopify-Hmac-Sha256': Buffer.from('B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=', 'base64').toString('hex') };
    await expect(verify(headers, '{"foo": "bar"}')).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('malformed') });
  });

  it('rejects an empty signature header (shopify-api-js: missing header)', async () => {
    await expect(verify({ 'X-Shopify-Hmac-Sha256': '' }, '{"foo": "bar"}')).resolves.toEqual({
      valid: false,
      reason: 'The X-Shopify-Hmac-Sha256 header is empty.',
    });
  });
});
