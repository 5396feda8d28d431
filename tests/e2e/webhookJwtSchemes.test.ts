import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type KeyLike } from 'jose';
import { Harness } from '../support/harness';

/**
 * JWT-carrying schemes end to end through the receiver on the local host: a custom sender's JWT
 * (`jwt` scheme, shared secret and audience) and Microsoft Graph rich notifications, whose
 * `validationTokens` are RS256 JWTs checked against a JWKS, the app id, Graph Change Tracking as
 * publisher and a Microsoft identity issuer. Accepted deliveries are logged; refused ones store
 * nothing.
 */
const GRAPH_CHANGE_TRACKING = '0bf30f3b-4a52-48df-9a82-234910c4a086';
const APP_ID = randomUUID();
const TENANT = randomUUID();

describe('JWT webhook schemes through the receiver', () => {
  let h: Harness;
  const shared = randomBytes(32).toString('base64url');
  let graphKey: KeyLike;
  let otherKey: KeyLike;
  const clientState = randomBytes(16).toString('hex');

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 2 } });
    const pair = await generateKeyPair('RS256', { extractable: true });
    graphKey = pair.privateKey as KeyLike;
    otherKey = (await generateKeyPair('RS256')).privateKey as KeyLike;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'graph-test-key', alg: 'RS256', use: 'sig' };
    for (const id of ['jw-custom', 'jw-graph']) {
      expect((await h.api('POST', '/api/connections', { id, provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, credentials: { type: 'none' } })).status).toBe(201);
    }
    expect((await h.api('PUT', '/api/connections/jw-custom/webhook', { scheme: 'jwt', secrets: [shared], options: { audience: ['syncbridge-hooks'], issuer: ['https://sender.example'] } })).status).toBe(200);
    expect((await h.api('PUT', '/api/connections/jw-graph/webhook', { scheme: 'msgraph', options: { clientStates: [clientState], appId: [APP_ID], tenantIds: [TENANT], jwks: { keys: [jwk] } } })).status).toBe(200);
  }, 60_000);
  afterAll(async () => h?.close());

  async function post(path: string, headers: Record<string, string>, body: string) {
    const response = await fetch(`${h.hostUrl}/api/webhooks/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    return { status: response.status, text: await response.text() };
  }
  const logged = async (connection: string) => (await h.api('GET', `/api/connections/${connection}/deliveries?limit=100`)).body.deliveries.length as number;

  describe('jwt (custom sender)', () => {
    const token = (claims: Record<string, unknown>, key = shared) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(key));
    const body = () => JSON.stringify({ id: randomUUID(), type: 'thing.happened' });

    it('a JWT with the shared secret, audience and issuer is accepted and logged', async () => {
      const before = await logged('jw-custom');
      const jwt = await token({ aud: 'syncbridge-hooks', iss: 'https://sender.example' });
      expect((await post('jwt/jw-custom', { authorization: `Bearer ${jwt}` }, body())).status).toBe(202);
      expect(await logged('jw-custom')).toBe(before + 1);
    });

    it.each([
      ['another secret', async () => token({ aud: 'syncbridge-hooks', iss: 'https://sender.example' }, randomBytes(32).toString('base64url'))],
      ['another audience', async () => token({ aud: 'someone-else', iss: 'https://sender.example' })],
      ['another issuer', async () => token({ aud: 'syncbridge-hooks', iss: 'https://evil.example' })],
      ['an expired token', async () => new SignJWT({ aud: 'syncbridge-hooks', iss: 'https://sender.example' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(Math.floor(Date.now() / 1000) - 3600).setExpirationTime(Math.floor(Date.now() / 1000) - 1800).sign(new TextEncoder().encode(shared))],
      ['alg none', async () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"aud":"syncbridge-hooks"}').toString('base64url')}.`],
    ])('%s → 401, nothing logged', async (_name, make) => {
      const before = await logged('jw-custom');
      expect((await post('jwt/jw-custom', { authorization: `Bearer ${await make()}` }, body())).status).toBe(401);
      expect(await logged('jw-custom')).toBe(before);
    });
  });

  describe('msgraph rich notifications (validationTokens)', () => {
    const validationToken = (claims: Record<string, unknown>, key: KeyLike = graphKey) =>
      new SignJWT({ aud: APP_ID, iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, appid: GRAPH_CHANGE_TRACKING, ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: 'graph-test-key' })
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(key);
    const notification = (tokens: string[]) =>
      JSON.stringify({
        value: [{ subscriptionId: randomUUID(), clientState, changeType: 'updated', resource: 'Users/u1/Events/AAMk', resourceData: { id: 'AAMk' }, tenantId: TENANT, encryptedContent: { data: randomBytes(64).toString('base64'), dataKey: randomBytes(32).toString('base64'), dataSignature: randomBytes(32).toString('base64'), encryptionCertificateId: 'cert-1' } }],
        validationTokens: tokens,
      });

    it('verified validation tokens → 202 and logged', async () => {
      const before = await logged('jw-graph');
      expect((await post('msgraph/jw-graph', {}, notification([await validationToken({})]))).status).toBe(202);
      expect(await logged('jw-graph')).toBe(before + 1);
    });

    it.each([
      ['a token signed by another key', async () => [await validationToken({}, otherKey)]],
      ['a token for another app', async () => [await validationToken({ aud: randomUUID() })]],
      ['a token not published by Graph Change Tracking', async () => [await validationToken({ appid: randomUUID() })]],
      ['a token from another tenant', async () => [await validationToken({ iss: `https://login.microsoftonline.com/${randomUUID()}/v2.0` })]],
      ['one good and one bad token', async () => [await validationToken({}), await validationToken({}, otherKey)]],
      ['no tokens at all', async () => [] as string[]],
    ])('%s → 401, nothing logged', async (_name, tokens) => {
      const before = await logged('jw-graph');
      expect((await post('msgraph/jw-graph', {}, notification(await tokens()))).status).toBe(401);
      expect(await logged('jw-graph')).toBe(before);
    });
  });
});
