import { readNotionVerificationToken, verifyWebhook } from '../../../shared/webhooks';
import { notionSignature } from './support/signers';

const TOKEN = 'secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl';
const verify = (headers: Record<string, string>, rawBody: string, secret: string | string[] = TOKEN) =>
  verifyWebhook('notion', { secret, method: 'POST', url: '/api/webhooks/notion/c1', headers, rawBody });

describe('notion', () => {
  // developers.notion.com/reference/webhooks: Notion signs the minified JSON body with the verification token.
  const event = JSON.stringify({ id: '367cba44-b6f3-4c92-81e7-6a2e9659efd4', type: 'page.content_updated', entity: { id: '153104cd-477e-809d-8dc4-ff2d96ae3090', type: 'page' } });

  it('accepts an event signed with the verification token', async () => {
    await expect(verify({ 'X-Notion-Signature': notionSignature(TOKEN, event) }, event)).resolves.toEqual({ valid: true });
  });

  it('answers the unsigned verification-token handshake with 200 and exposes the token', async () => {
    const body = JSON.stringify({ verification_token: TOKEN });
    const result = await verify({}, body, []);
    expect(result.valid).toBe(false);
    expect(result.handshake).toEqual({ status: 200, headers: {}, body: '' });
    expect(readNotionVerificationToken(body)).toBe(TOKEN);
  });

  it('does not treat a body with extra members as the handshake', async () => {
    const body = JSON.stringify({ verification_token: TOKEN, type: 'page.created' });
    expect(readNotionVerificationToken(body)).toBeUndefined();
    await expect(verify({}, body)).resolves.toEqual({ valid: false, reason: 'The X-Notion-Signature header is missing.' });
  });

  it('rejects a signed event while no verification token is configured yet', async () => {
    const result = await verify({ 'X-Notion-Signature': notionSignature(TOKEN, event) }, event, []);
    expect(result).toMatchObject({ valid: false, reason: expect.stringContaining('no verification token is configured') });
  });

  it('rejects a bare hex signature without the sha256= prefix', async () => {
    const bare = notionSignature(TOKEN, event).slice('sha256='.length);
    await expect(verify({ 'X-Notion-Signature': bare }, event)).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('malformed') });
  });
});
