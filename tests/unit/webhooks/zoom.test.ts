import { createHmac } from 'node:crypto';
import { verifyWebhook } from '../../../shared/webhooks';
import { hmacHex, zoomSignature } from './support/signers';

const SECRET = 'zoom_secret_token_123';
const NOW = 1_700_000_000;
const verify = (headers: Record<string, string>, rawBody: string, secret: string | string[] = SECRET) =>
  verifyWebhook('zoom', { secret, method: 'POST', url: '/api/webhooks/zoom/c1', headers, rawBody, now: NOW });
const signed = (body: string, secret = SECRET, ts = NOW) => ({ 'x-zm-request-timestamp': String(ts), 'x-zm-signature': zoomSignature(secret, ts, body) });

describe('zoom', () => {
  it('accepts an event signed as in zoom/webhook-sample index.js: v0=HMAC("v0:{ts}:{body}")', async () => {
    const body = JSON.stringify({ event: 'meeting.started', payload: { object: { id: '123' } }, event_ts: NOW * 1000 });
    const expected = `v0=${createHmac('sha256', SECRET).update(`v0:${NOW}:${body}`).digest('hex')}`;
    await expect(verify({ 'x-zm-request-timestamp': String(NOW), 'x-zm-signature': expected }, body)).resolves.toEqual({ valid: true });
  });

  it('answers endpoint.url_validation with plainToken and its hex HMAC', async () => {
    const body = JSON.stringify({ payload: { plainToken: 'qgg8vlvZRS6UYooatFL8Aw' }, event_ts: 1654503849680, event: 'endpoint.url_validation' });
    const result = await verify(signed(body), body);
    expect(result.valid).toBe(true);
    expect(result.handshake?.status).toBe(200);
    expect(JSON.parse(result.handshake!.body)).toEqual({
      plainToken: 'qgg8vlvZRS6UYooatFL8Aw',
      encryptedToken: hmacHex('sha256', SECRET, 'qgg8vlvZRS6UYooatFL8Aw'),
    });
  });

  it('answers the handshake with the secret that verified it during rotation', async () => {
    const body = JSON.stringify({ payload: { plainToken: 'abc' }, event: 'endpoint.url_validation' });
    const result = await verify(signed(body, 'new-secret'), body, ['old-secret', 'new-secret']);
    expect(JSON.parse(result.handshake!.body).encryptedToken).toBe(hmacHex('sha256', 'new-secret', 'abc'));
  });

  it('does not answer an unsigned url_validation request', async () => {
    const body = JSON.stringify({ payload: { plainToken: 'abc' }, event: 'endpoint.url_validation' });
    const result = await verify(signed(body, 'attacker'), body);
    expect(result).toEqual({ valid: false, reason: 'The x-zm-signature signature does not match the timestamp and body for any active secret.' });
  });

  it('rejects a signature of another version', async () => {
    const body = '{}';
    const result = await verify({ 'x-zm-request-timestamp': String(NOW), 'x-zm-signature': `v1=${hmacHex('sha256', SECRET, `v1:${NOW}:{}`)}` }, body);
    expect(result.reason).toBe('The x-zm-signature header carries a v1 signature; only v0 is accepted.');
  });
});
