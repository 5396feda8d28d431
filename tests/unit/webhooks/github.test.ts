import { verifyWebhook } from '../../../shared/webhooks';
import { githubSignature, hmacHex } from './support/signers';

const request = (headers: Record<string, string | string[]>, rawBody: string, secret: string | string[] = "It's a Secret to Everybody") =>
  verifyWebhook('github', { secret, method: 'POST', url: '/api/webhooks/github/c1', headers, rawBody });

describe('github', () => {
  it("verifies GitHub's published test vector", async () => {
    // docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries, "Testing the webhook payload validation".
    const headers = { 'X-Hub-Signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17' };
    await expect(request(headers, 'Hello, World!')).resolves.toEqual({ valid: true });
    await expect(request(headers, 'Hello, World?')).resolves.toMatchObject({ valid: false });
  });

  it('verifies the @octokit/webhooks-methods test vectors', async () => {
    // octokit/webhooks-methods.js test/verify.test.ts: GitHub's 2-space JSON with a trailing newline.
    const payload = `${JSON.stringify({ foo: 'bar' }, null, 2)}\n`;
    const headers = { 'x-hub-signature-256': 'sha256=e3eccac34c43c7dc1cbb905488b1b81347fcc700a7b025697a9d07862256023f' };
    await expect(request(headers, payload, 'mysecret')).resolves.toEqual({ valid: true });
    await expect(request(headers, payload, 'foo')).resolves.toMatchObject({ valid: false });
    // Same file, issue #71: escapes and multi-byte characters are signed as raw bytes.
    const special = `${JSON.stringify({ foo: 'Foo\n\u001b[34mbar: ♥♥♥♥♥♥♥♥\nthis-is-lost\u001b[0m\u001b[2K' }, null, 2)}\n`.replace(
      /[^\\]\\u[\da-f]{4}/g,
      (s) => s.substr(0, 3) + s.substr(3).toUpperCase(),
    );
    const specialHeaders = { 'X-Hub-Signature-256': 'sha256=9dacf9003316b09be07df56d86a2d0d6872e42a1e6c72c3bad9ff915a7c5603e' };
    await expect(request(specialHeaders, special, 'development')).resolves.toEqual({ valid: true });
  });

  it('accepts uppercase hex, as a constant-time byte comparison should', async () => {
    const headers = { 'X-Hub-Signature-256': githubSignature('s3cret', '{}').toUpperCase().replace('SHA256=', 'sha256=') };
    await expect(request(headers, '{}', 's3cret')).resolves.toEqual({ valid: true });
  });

  it('rejects a delivery that carries only the legacy SHA-1 signature', async () => {
    const headers = { 'X-Hub-Signature': `sha1=${hmacHex('sha1', 's3cret', '{}')}` };
    const result = await request(headers, '{}', 's3cret');
    expect(result.valid).toBe(false);
    expect(result.reason).toBe('The X-Hub-Signature-256 header is missing; the legacy SHA-1 X-Hub-Signature header is not accepted.');
  });

  it('rejects a SHA-1 signature placed in the SHA-256 header', async () => {
    const headers = { 'X-Hub-Signature-256': `sha1=${hmacHex('sha1', 's3cret', '{}')}` };
    await expect(request(headers, '{}', 's3cret')).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('malformed') });
  });

  it('rejects a signature truncated by one hex digit without comparing it', async () => {
    const headers = { 'X-Hub-Signature-256': githubSignature('s3cret', '{}').slice(0, -1) };
    await expect(request(headers, '{}', 's3cret')).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('malformed') });
  });
});
