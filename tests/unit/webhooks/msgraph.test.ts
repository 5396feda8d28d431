import { verifyWebhook, GRAPH_CHANGE_TRACKING_APP_ID, type MsgraphWebhookOptions } from '../../../shared/webhooks';
import { jwksOf, newRsaKey, signRs256 } from './support/tokens';

const NOW = 1_565_046_900;
const APP_ID = '8e460676-ae3f-4b1e-8790-ee0fb5d6148f';
const TENANT = '84bd8158-6d4d-4958-8b9f-9d6445542f95';
const CLIENT_STATE = 'secretClientValue';
const microsoftKey = newRsaKey('msft-key');

const options = (overrides: Partial<MsgraphWebhookOptions> = {}): MsgraphWebhookOptions => ({
  clientStates: [CLIENT_STATE],
  appId: APP_ID,
  jwks: jwksOf(microsoftKey),
  ...overrides,
});

const verify = (rawBody: string, url = 'https://sync.example.com/api/webhooks/msgraph/c1', secret: MsgraphWebhookOptions = options()) =>
  verifyWebhook('msgraph', { secret, method: 'POST', url, headers: { 'content-type': 'application/json' }, rawBody, now: NOW });

// learn.microsoft.com/graph/change-notifications-delivery-webhooks: a basic notification.
const notification = (clientState = CLIENT_STATE, extra: Record<string, unknown> = {}) => ({
  subscriptionId: '76222963-cc7b-42d2-882d-8aaa69cb2ba3',
  subscriptionExpirationDateTime: '2019-03-20T11:00:00.0000000Z',
  changeType: 'created',
  resource: 'Users/{user-guid}@{tenant-guid}/Events/{event-id}',
  clientState,
  tenantId: TENANT,
  ...extra,
});

// learn.microsoft.com/graph/change-notifications-with-resource-data "Example JWT token" claims.
const validationToken = (overrides: Record<string, unknown> = {}) =>
  signRs256(microsoftKey, {
    aud: APP_ID,
    iss: `https://sts.windows.net/${TENANT}/`,
    iat: 1565046813,
    nbf: 1565046813,
    exp: 1565075913,
    appid: GRAPH_CHANGE_TRACKING_APP_ID,
    tid: TENANT,
    ...overrides,
  });

describe('msgraph', () => {
  it('echoes the URL-decoded validationToken as text/plain', async () => {
    const token = 'Validation: Testing client application reachability for subscription Request-Id: 07a9ed1e-f7b5-4e3e-9c64-c2b8d3b35c3b';
    const result = await verify('', `https://sync.example.com/api/webhooks/msgraph/c1?validationToken=${encodeURIComponent(token)}`);
    expect(result.valid).toBe(false);
    expect(result.handshake).toEqual({
      status: 200,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
      body: token,
    });
  });

  it('also finds the validationToken on a relative URL', async () => {
    const result = await verify('', '/api/webhooks/msgraph/c1?validationToken=abc%2Bdef');
    expect(result.handshake?.body).toBe('abc+def');
  });

  it('refuses an empty, repeated or control-character validationToken', async () => {
    for (const query of ['validationToken=', 'validationToken=a&validationToken=b', 'validationToken=a%0Ab']) {
      const result = await verify('', `/hook?${query}`);
      expect(result.valid).toBe(false);
      expect(result.handshake).toBeUndefined();
    }
  });

  it('accepts notifications whose clientState matches, with rotation', async () => {
    await expect(verify(JSON.stringify({ value: [notification()] }))).resolves.toEqual({ valid: true });
    await expect(verify(JSON.stringify({ value: [notification('next')] }), undefined, options({ clientStates: ['next', CLIENT_STATE] }))).resolves.toEqual({ valid: true });
  });

  it('rejects a batch in which any notification has a wrong or missing clientState', async () => {
    await expect(verify(JSON.stringify({ value: [notification(), notification('forged')] }))).resolves.toEqual({
      valid: false,
      reason: 'A notification carries a clientState that matches no active clientState.',
    });
    const { clientState: _cs, ...noState } = notification();
    await expect(verify(JSON.stringify({ value: [noState] }))).resolves.toEqual({ valid: false, reason: 'A notification has no clientState.' });
  });

  it('rejects bodies that are not notification collections', async () => {
    for (const body of ['', '[]', '{"value":[]}', '{"value":"x"}', 'not json']) {
      await expect(verify(body)).resolves.toMatchObject({ valid: false });
    }
  });

  it('accepts rich notifications whose validation tokens Microsoft signed for our app', async () => {
    const body = JSON.stringify({ validationTokens: [validationToken()], value: [notification(CLIENT_STATE, { encryptedContent: { data: 'x' } })] });
    await expect(verify(body)).resolves.toEqual({ valid: true });
    await expect(verify(body, undefined, options({ tenantIds: [TENANT.toUpperCase()] }))).resolves.toEqual({ valid: true });
  });

  it('rejects rich notifications without validation tokens', async () => {
    const body = JSON.stringify({ value: [notification(CLIENT_STATE, { encryptedContent: { data: 'x' } })] });
    await expect(verify(body)).resolves.toEqual({ valid: false, reason: 'The notifications carry encryptedContent but no validationTokens.' });
  });

  it('rejects a validation token from another publisher, audience, tenant or signer, or an expired one', async () => {
    const rich = (token: string) => JSON.stringify({ validationTokens: [token], value: [notification(CLIENT_STATE, { encryptedContent: {} })] });
    await expect(verify(rich(validationToken({ appid: '11111111-1111-1111-1111-111111111111' })))).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('Change Tracking') });
    await expect(verify(rich(validationToken({ aud: 'someone-else' })))).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('audience') });
    await expect(verify(rich(validationToken({ iss: 'https://evil.example.com/' })))).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('Microsoft identity') });
    await expect(verify(rich(validationToken()), undefined, options({ tenantIds: ['00000000-0000-0000-0000-000000000000'] }))).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('tenant') });
    await expect(verify(rich(signRs256(newRsaKey('msft-key'), { aud: APP_ID, exp: NOW + 60, appid: GRAPH_CHANGE_TRACKING_APP_ID })))).resolves.toMatchObject({ valid: false });
    await expect(verify(rich(validationToken({ exp: NOW - 1 })))).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('expired') });
  });

  it('rejects validation tokens when no appId is configured to check them against', async () => {
    const body = JSON.stringify({ validationTokens: [validationToken()], value: [notification()] });
    await expect(verify(body, undefined, options({ appId: undefined }))).resolves.toMatchObject({ valid: false, reason: expect.stringContaining('appId') });
  });
});
