import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Harness } from '../support/harness';

/**
 * Without SYNCBRIDGE_PUBLIC_BASE_URL the receiver verifies against the URL the request arrived on
 * (here the loopback URL); a signature over any other URL is a forgery. Twilio is the scheme that
 * signs the URL, so it proves which one was used.
 */
describe('webhook public URL: the request URL when no public base is set', () => {
  let h: Harness;
  const token = randomBytes(16).toString('hex');
  const sign = (url: string, params: Record<string, string> = {}) =>
    createHmac('sha1', token).update(url + Object.keys(params).sort().map((k) => k + params[k]).join('')).digest('base64');

  beforeAll(async () => {
    delete process.env.SYNCBRIDGE_PUBLIC_BASE_URL;
    h = await Harness.start({ sandbox: { recordsPerEntity: 5 } });
    expect((await h.api('POST', '/api/connections', { id: 'sms', provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, credentials: { type: 'none' } })).status).toBe(201);
    expect((await h.api('PUT', '/api/connections/sms/webhook', { scheme: 'twilio', secrets: [token] })).status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  const url = () => `${h.hostUrl}/api/webhooks/twilio/sms?source=status`;
  const form = (params: Record<string, string>, signature: string) =>
    fetch(url(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature }, body: new URLSearchParams(params).toString() });

  it('a form post signed over the loopback URL (query included) is 202', async () => {
    const params = { CallSid: `CA${randomBytes(16).toString('hex')}`, CallStatus: 'completed' };
    expect((await form(params, sign(url(), params))).status).toBe(202);
  });

  it('signed over another host or without the query → 401', async () => {
    const params = { CallSid: `CA${randomBytes(16).toString('hex')}`, CallStatus: 'completed' };
    expect((await form(params, sign(url().replace('127.0.0.1', 'hooks.example.test'), params))).status).toBe(401);
    expect((await form(params, sign(url().replace('?source=status', ''), params))).status).toBe(401);
  });

  it('a JSON body: bodySHA256 on the signed URL must match the body', async () => {
    const body = JSON.stringify({ event: 'com.twilio.messaging.message.delivered', sid: `SM${randomBytes(8).toString('hex')}` });
    const signedUrl = `${h.hostUrl}/api/webhooks/twilio/sms?bodySHA256=${createHash('sha256').update(body).digest('hex')}`;
    const send = (b: string) => fetch(signedUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-twilio-signature': sign(signedUrl) }, body: b });
    expect((await send(body)).status).toBe(202);
    expect((await send(body.replace('delivered', 'undelivered'))).status).toBe(401);
  });
});
