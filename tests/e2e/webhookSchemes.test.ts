import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { QUEUES } from '../../shared/ports/queue';
import { Harness } from '../support/harness';

/**
 * Every provider scheme through the real receiver on the local host: signed by the provider's
 * documented algorithm (computed here independently of shared/webhooks), a correct request is 202
 * and enqueued, the same request under a wrong secret is 401 with nothing stored, and each
 * handshake gets exactly the answer its provider documents, with nothing enqueued.
 */
const PUBLIC_BASE = 'https://hooks.example.test';
const now = () => Math.floor(Date.now() / 1000);
const hmac = (alg: string, key: string | Buffer, data: string, enc: 'hex' | 'base64') => createHmac(alg, key).update(data).digest(enc);
const token = (prefix = '') => `${prefix}${randomBytes(18).toString('base64url')}`;

interface Signed {
  headers: Record<string, string>;
  body: string;
  query?: string;
}

interface SchemeCase {
  scheme: string;
  /** What PUT /webhook receives for this connection. */
  settings: (secret: string) => Record<string, unknown>;
  /** A secret in the scheme's own format. */
  newSecret: () => string;
  /** Signs `body` as the provider does; `url` is the public URL the provider called. */
  sign: (secret: string, body: string, url: string) => Signed;
}

const json = (value: unknown) => JSON.stringify(value);

const CASES: SchemeCase[] = [
  {
    scheme: 'github',
    settings: (s) => ({ scheme: 'github', secrets: [s] }),
    newSecret: () => token(),
    sign: (s, body) => ({
      body,
      headers: { 'x-hub-signature-256': `sha256=${hmac('sha256', s, body, 'hex')}`, 'x-github-delivery': randomUUID(), 'x-github-event': 'issues' },
    }),
  },
  {
    scheme: 'slack',
    settings: (s) => ({ scheme: 'slack', secrets: [s] }),
    newSecret: () => randomBytes(16).toString('hex'),
    sign: (s, body) => {
      const ts = String(now());
      return { body, headers: { 'x-slack-request-timestamp': ts, 'x-slack-signature': `v0=${hmac('sha256', s, `v0:${ts}:${body}`, 'hex')}` } };
    },
  },
  {
    scheme: 'stripe',
    settings: (s) => ({ scheme: 'stripe', secrets: [s] }),
    newSecret: () => token('whsec_'),
    // The whsec_ secret is the key as-is (not decoded), per stripe-node.
    sign: (s, body) => {
      const t = now();
      return { body, headers: { 'stripe-signature': `t=${t},v1=${hmac('sha256', s, `${t}.${body}`, 'hex')}` } };
    },
  },
  {
    scheme: 'shopify',
    settings: (s) => ({ scheme: 'shopify', secrets: [s] }),
    newSecret: () => token(),
    sign: (s, body) => ({
      body,
      headers: { 'x-shopify-hmac-sha256': hmac('sha256', s, body, 'base64'), 'x-shopify-topic': 'orders/create', 'x-shopify-webhook-id': randomUUID() },
    }),
  },
  {
    scheme: 'svix',
    settings: (s) => ({ scheme: 'svix', secrets: [s] }),
    newSecret: () => `whsec_${randomBytes(24).toString('base64')}`,
    sign: (s, body) => {
      const id = `msg_${randomBytes(8).toString('hex')}`;
      const ts = String(now());
      const key = Buffer.from(s.slice('whsec_'.length), 'base64');
      return { body, headers: { 'svix-id': id, 'svix-timestamp': ts, 'svix-signature': `v1,${hmac('sha256', key, `${id}.${ts}.${body}`, 'base64')}` } };
    },
  },
  {
    scheme: 'notion',
    settings: (s) => ({ scheme: 'notion', secrets: [s] }),
    newSecret: () => token('secret_'),
    sign: (s, body) => ({ body, headers: { 'x-notion-signature': `sha256=${hmac('sha256', s, body, 'hex')}` } }),
  },
  {
    scheme: 'zoom',
    settings: (s) => ({ scheme: 'zoom', secrets: [s] }),
    newSecret: () => token(),
    sign: (s, body) => {
      const ts = String(now());
      return { body, headers: { 'x-zm-request-timestamp': ts, 'x-zm-signature': `v0=${hmac('sha256', s, `v0:${ts}:${body}`, 'hex')}` } };
    },
  },
  {
    scheme: 'twilio',
    settings: (s) => ({ scheme: 'twilio', secrets: [s] }),
    newSecret: () => randomBytes(16).toString('hex'),
    // A form post: the full public URL, then each parameter's name and value, sorted by name, HMAC-SHA1.
    sign: (s, _body, url) => {
      const params: Record<string, string> = { MessageSid: `SM${randomBytes(16).toString('hex')}`, Body: 'Hello', From: '+15550001111', To: '+15550002222' };
      const signed = url + Object.keys(params).sort().map((k) => k + params[k]).join('');
      return {
        body: new URLSearchParams(params).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': hmac('sha1', s, signed, 'base64'), 'i-twilio-idempotency-token': randomUUID() },
      };
    },
  },
  {
    scheme: 'msgraph',
    settings: (s) => ({ scheme: 'msgraph', options: { clientStates: [s] } }),
    newSecret: () => token(),
    sign: (s) => ({
      body: json({ value: [{ subscriptionId: randomUUID(), clientState: s, changeType: 'updated', resource: 'me/events/AAMk', tenantId: randomUUID() }] }),
      headers: {},
    }),
  },
  {
    scheme: 'hmac',
    settings: (s) => ({ scheme: 'hmac', secrets: [s], options: { header: 'x-signature', algorithm: 'sha512', encoding: 'base64', prefix: 'sha512=' } }),
    newSecret: () => token(),
    sign: (s, body) => ({ body, headers: { 'x-signature': `sha512=${hmac('sha512', s, body, 'base64')}` } }),
  },
  {
    scheme: 'bearer',
    settings: (s) => ({ scheme: 'bearer', secrets: [s] }),
    newSecret: () => token(),
    sign: (s, body) => ({ body, headers: { authorization: `Bearer ${s}` } }),
  },
  {
    scheme: 'basic',
    settings: (s) => ({ scheme: 'basic', secrets: [`hooks:${s}`] }),
    newSecret: () => token(),
    sign: (s, body) => ({ body, headers: { authorization: `Basic ${Buffer.from(`hooks:${s}`).toString('base64')}` } }),
  },
];

describe('webhook schemes of the real providers (local host)', () => {
  let h: Harness;
  const secrets = new Map<string, string>();
  const path = (scheme: string) => `/api/webhooks/${scheme}/wh-${scheme}`;

  async function post(scheme: string, signed: Signed, query = '') {
    const response = await fetch(`${h.hostUrl}${path(scheme)}${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signed.headers },
      body: signed.body,
    });
    const text = await response.text();
    return { status: response.status, text, headers: response.headers, body: (() => { try { return JSON.parse(text); } catch { return undefined; } })() };
  }

  async function deliveries(scheme: string): Promise<any[]> {
    const response = await h.api('GET', `/api/connections/wh-${scheme}/deliveries?limit=500`);
    expect(response.status).toBe(200);
    return response.body.deliveries;
  }

  /** Runs `action` and checks that it stored nothing and enqueued nothing. */
  async function expectNothingStored<T>(scheme: string, action: () => Promise<T>): Promise<T> {
    await h.waitFor('an idle queue', async () => h.platform.queue.depth(QUEUES.inbound).active === 0);
    const before = (await deliveries(scheme)).length;
    const depth = h.platform.queue.depth(QUEUES.inbound);
    const result = await action();
    expect(h.platform.queue.depth(QUEUES.inbound)).toEqual(depth);
    await new Promise((r) => setTimeout(r, 100));
    expect((await deliveries(scheme)).length).toBe(before);
    return result;
  }

  beforeAll(async () => {
    // Twilio signs the public URL; behind a proxy the receiver rebuilds it from this base.
    process.env.SYNCBRIDGE_PUBLIC_BASE_URL = PUBLIC_BASE;
    h = await Harness.start({ sandbox: { recordsPerEntity: 5 } });
    for (const c of CASES) {
      const created = await h.api('POST', '/api/connections', { id: `wh-${c.scheme}`, provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, credentials: { type: 'none' } });
      expect(created.status).toBe(201);
      const secret = c.newSecret();
      secrets.set(c.scheme, secret);
      const set = await h.api('PUT', `/api/connections/wh-${c.scheme}/webhook`, c.settings(secret));
      expect(set.status).toBe(200);
      expect(set.body).toMatchObject({ configured: true, scheme: c.scheme });
      expect(set.body.secretCount).toBeGreaterThan(0);
      expect(JSON.stringify(set.body)).not.toContain(secret);
    }
  }, 60_000);

  afterAll(async () => {
    delete process.env.SYNCBRIDGE_PUBLIC_BASE_URL;
    await h?.close();
  });

  describe.each(CASES.map((c) => [c.scheme, c] as const))('%s', (scheme, c) => {
    const event = () => json({ id: `evt_${randomBytes(6).toString('hex')}`, type: 'thing.happened', event_id: `Ev${randomBytes(6).toString('hex')}`, data: { n: 1 } });

    it('a correctly signed delivery is 202, enqueued, and logged as ignored (no adapter for its provider)', async () => {
      const signed = c.sign(secrets.get(scheme)!, event(), `${PUBLIC_BASE}${path(scheme)}`);
      const response = await post(scheme, signed);
      expect(response.status).toBe(202);
      expect(response.body).toMatchObject({ duplicate: false });
      const entry = await h.waitFor('the delivery to be applied', async () => (await deliveries(scheme)).find((d) => d.id === response.body.deliveryId && d.status !== 'received'));
      expect(entry).toMatchObject({ status: 'ignored', provider: scheme });
      expect(entry.detail).toContain(`no adapter for ${scheme}`);
      // No signature or credential header is kept in the log.
      expect(JSON.stringify(entry.headers)).not.toContain(secrets.get(scheme)!.slice(0, 12));
      for (const name of ['authorization', 'x-hub-signature-256', 'stripe-signature', 'x-shopify-hmac-sha256', 'svix-signature', 'x-twilio-signature', 'x-signature']) {
        expect(entry.headers[name]).toBeUndefined();
      }
    });

    it('the same delivery under a wrong secret is 401, with nothing stored or enqueued', async () => {
      const signed = c.sign(c.newSecret(), event(), `${PUBLIC_BASE}${path(scheme)}`);
      const response = await expectNothingStored(scheme, () => post(scheme, signed));
      expect(response.status).toBe(401);
      expect(response.body.error.message).toBe('The webhook signature could not be verified.');
      expect(response.text).not.toContain(secrets.get(scheme)!);
    });
  });

  describe('a repeated Authorization header is refused, never half-read', () => {
    /** Node's fetch joins repeated headers itself, so the request is written by hand. */
    async function postRaw(scheme: string, authorizations: string[], body: string): Promise<number> {
      const { port } = new URL(h.hostUrl);
      const head = [
        `POST ${path(scheme)} HTTP/1.1`, `host: 127.0.0.1:${port}`, 'content-type: application/json', `content-length: ${Buffer.byteLength(body)}`, 'connection: close',
        ...authorizations.map((value) => `authorization: ${value}`),
      ].join('\r\n');
      const answer = await new Promise<string>((done, fail) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.end(`${head}\r\n\r\n${body}`));
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString('latin1')));
        socket.on('end', () => done(text));
        socket.on('error', fail);
      });
      return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
    }

    it.each(['bearer', 'basic'])('%s: the right credential plus another one is 401, with nothing stored or enqueued', async (scheme) => {
      const body = json({ hello: randomUUID() });
      const good = CASES.find((c) => c.scheme === scheme)!.sign(secrets.get(scheme)!, body, '').headers.authorization;
      const forged = scheme === 'bearer' ? 'Bearer forged' : `Basic ${Buffer.from('hooks:forged').toString('base64')}`;
      expect(await expectNothingStored(scheme, () => postRaw(scheme, [forged, good], body))).toBe(401);
      expect(await expectNothingStored(scheme, () => postRaw(scheme, [good, forged], body))).toBe(401);
      // The same request with the credential once is accepted: the refusal is about the repetition.
      expect(await postRaw(scheme, [good], body)).toBe(202);
    });
  });

  describe('handshakes: the documented answer, nothing enqueued or logged', () => {
    it('slack url_verification (signed) → 200 {"challenge"}; unsigned → 401', async () => {
      const body = json({ token: 'legacy', challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', type: 'url_verification' });
      const ok = await expectNothingStored('slack', () => post('slack', CASES[1].sign(secrets.get('slack')!, body, '')));
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toContain('application/json');
      expect(ok.body).toEqual({ challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' });
      const forged = await expectNothingStored('slack', () => post('slack', { body, headers: {} }));
      expect(forged.status).toBe(401);
    });

    it('microsoft graph validationToken → 200 text/plain echo of the decoded token', async () => {
      const response = await expectNothingStored('msgraph', () => post('msgraph', { body: '', headers: { 'content-type': 'text/plain' } }, '?validationToken=Validation%3A%20Testing%20client%20application'));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(response.text).toBe('Validation: Testing client application');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    });

    it('notion verification_token (unsigned) → 200 empty', async () => {
      const response = await expectNothingStored('notion', () => post('notion', { body: json({ verification_token: 'secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl' }), headers: {} }));
      expect(response.status).toBe(200);
      expect(response.text).toBe('');
    });

    it('zoom endpoint.url_validation (signed) → 200 {plainToken, encryptedToken}', async () => {
      const secret = secrets.get('zoom')!;
      const body = json({ payload: { plainToken: 'qgg8vlvZRS6UYooatFL8Aw' }, event_ts: 1654503849680, event: 'endpoint.url_validation' });
      const response = await expectNothingStored('zoom', () => post('zoom', CASES[6].sign(secret, body, '')));
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ plainToken: 'qgg8vlvZRS6UYooatFL8Aw', encryptedToken: hmac('sha256', secret, 'qgg8vlvZRS6UYooatFL8Aw', 'hex') });
      const forged = await expectNothingStored('zoom', () => post('zoom', CASES[6].sign(randomBytes(16).toString('hex'), body, '')));
      expect(forged.status).toBe(401);
    });
  });

  describe('notion: a subscription waiting for its first handshake', () => {
    it('keeps the verification token in the secret store (never in the API or logs) until the operator sets it as the secret', async () => {
      expect((await h.api('POST', '/api/connections', { id: 'wh-notion-new', provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, credentials: { type: 'none' } })).status).toBe(201);
      const set = await h.api('PUT', '/api/connections/wh-notion-new/webhook', { scheme: 'notion', secrets: [] });
      expect(set.status).toBe(200);
      expect(set.body).toMatchObject({ configured: true, scheme: 'notion', secretCount: 0, notionVerificationTokenReceived: false });

      const verificationToken = token('secret_');
      const send = (signed: Signed) => fetch(`${h.hostUrl}/api/webhooks/notion/wh-notion-new`, { method: 'POST', headers: { 'content-type': 'application/json', ...signed.headers }, body: signed.body });
      const handshake = await send({ body: json({ verification_token: verificationToken }), headers: {} });
      expect(handshake.status).toBe(200);
      expect(await handshake.text()).toBe('');
      expect((await h.platform.secrets.get('connection-wh-notion-new-webhook-notion-verification-token'))?.value).toBe(verificationToken);
      const view = await h.api('GET', '/api/connections/wh-notion-new/webhook');
      expect(view.body).toMatchObject({ secretCount: 0, notionVerificationTokenReceived: true });
      expect(JSON.stringify(view.body)).not.toContain(verificationToken);
      expect((await h.api('GET', '/api/connections/wh-notion-new/deliveries')).body.deliveries).toHaveLength(0);

      // Until the operator sets it, signed events are refused; afterwards they verify.
      const event = json({ id: randomUUID(), type: 'page.content_updated', entity: { id: 'p1', type: 'page' } });
      const signed = CASES[5].sign(verificationToken, event, '');
      expect((await send(signed)).status).toBe(401);
      expect((await h.api('PUT', '/api/connections/wh-notion-new/webhook', { scheme: 'notion', secrets: [verificationToken] })).status).toBe(200);
      expect((await send(signed)).status).toBe(202);

      // Once a secret is set, an (unsigned) handshake writes nothing more.
      const version = (await h.platform.secrets.get('connection-wh-notion-new-webhook-notion-verification-token'))!.version;
      expect((await send({ body: json({ verification_token: token('secret_') }), headers: {} })).status).toBe(200);
      expect((await h.platform.secrets.get('connection-wh-notion-new-webhook-notion-verification-token'))!.version).toBe(version);
      const logs = [...h.telemetryLines, ...h.hostLines].join('\n');
      expect(logs).not.toContain(verificationToken);
    });
  });

  describe('notion: unsigned handshakes cannot flood the secret store', () => {
    it('refuses a token no Notion token looks like, and keeps at most ten versions', async () => {
      expect((await h.api('POST', '/api/connections', { id: 'wh-notion-flood', provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, credentials: { type: 'none' } })).status).toBe(201);
      expect((await h.api('PUT', '/api/connections/wh-notion-flood/webhook', { scheme: 'notion', secrets: [] })).status).toBe(200);
      const name = 'connection-wh-notion-flood-webhook-notion-verification-token';
      const send = (verificationToken: string) => fetch(`${h.hostUrl}/api/webhooks/notion/wh-notion-flood`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json({ verification_token: verificationToken }) });
      expect((await send('x'.repeat(900_000))).status).toBe(401);
      expect((await send('secret with spaces')).status).toBe(401);
      expect(await h.platform.secrets.listVersions(name)).toHaveLength(0);
      for (let i = 0; i < 15; i += 1) expect((await send(token('secret_'))).status).toBe(200);
      expect(await h.platform.secrets.listVersions(name)).toHaveLength(10);
    });
  });

  describe('salesforce outbound messages (unsigned SOAP, checked by organization id)', () => {
    const ORG = '00D5e000000AbCdEAF';
    const soap = (org: string, id: string) =>
      '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
      `<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>${org}</OrganizationId><ActionId>04k5e000000AbCd</ActionId>` +
      `<Notification><Id>${id}</Id><sObject xsi:type="sf:Account" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>0015e00000AbCdE</sf:Id></sObject></Notification>` +
      '</notifications></soapenv:Body></soapenv:Envelope>';
    const send = (body: string) => fetch(`${h.hostUrl}${path('salesforce')}`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' }, body });

    beforeAll(async () => {
      expect((await h.api('POST', '/api/connections', { id: 'wh-salesforce', provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, credentials: { type: 'none' } })).status).toBe(201);
      expect((await h.api('PUT', '/api/connections/wh-salesforce/webhook', { scheme: 'salesforce', options: { organizationIds: [ORG] } })).status).toBe(200);
    });

    it('our organization → 200 with the SOAP Ack Salesforce waits for, logged once, a resend acknowledged again', async () => {
      const body = soap(ORG, `04l5e00000${randomBytes(4).toString('hex')}`);
      const response = await send(body);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/xml/);
      expect(await response.text()).toContain('<Ack>true</Ack>');
      const again = await expectNothingStored('salesforce', () => send(body));
      expect(again.status).toBe(200);
      expect(await again.text()).toContain('<Ack>true</Ack>');
      const entry = await h.waitFor('logged', async () => (await deliveries('salesforce')).find((d) => d.status !== 'received'));
      expect(entry).toMatchObject({ provider: 'salesforce', status: 'ignored' });
      expect(await deliveries('salesforce')).toHaveLength(1);
    });

    it('another organization → 401 without an Ack, nothing stored', async () => {
      const response = await expectNothingStored('salesforce', () => send(soap('00D000000000001AAA', '04l5e0000000001')));
      expect(response.status).toBe(401);
      expect(await response.text()).not.toContain('<Ack>');
    });
  });

  describe('google-pubsub push (OIDC JWT against the options\' JWKS, audience and email)', () => {
    const EMAIL = 'push@project.iam.gserviceaccount.com';
    const audience = `${PUBLIC_BASE}${path('google-pubsub')}`;
    let keys: { privateKey: any; other: any };

    const jwt = (claims: Record<string, unknown>, options: { key?: any; kid?: string; exp?: string } = {}) =>
      new SignJWT({ email: EMAIL, email_verified: true, ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'k1' })
        .setIssuer('https://accounts.google.com')
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime(options.exp ?? '5m')
        .sign(options.key ?? keys.privateKey);
    const push = (token: string, messageId = String(Date.now()) + randomBytes(2).toString('hex')) =>
      post('google-pubsub', {
        body: json({ message: { data: Buffer.from('{"kind":"calendar#event"}').toString('base64'), messageId, publishTime: new Date().toISOString() }, subscription: 'projects/p/subscriptions/s' }),
        headers: { authorization: `Bearer ${token}` },
      });

    beforeAll(async () => {
      const pair = await generateKeyPair('RS256');
      keys = { privateKey: pair.privateKey, other: (await generateKeyPair('RS256')).privateKey };
      const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
      expect((await h.api('POST', '/api/connections', { id: 'wh-google-pubsub', provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, credentials: { type: 'none' } })).status).toBe(201);
      const set = await h.api('PUT', '/api/connections/wh-google-pubsub/webhook', { scheme: 'google-pubsub', options: { jwks: { keys: [jwk] }, audience, email: EMAIL } });
      expect(set.status).toBe(200);
      expect(set.body).toMatchObject({ configured: true, scheme: 'google-pubsub' });
      expect((await h.api('PUT', '/api/connections/wh-google-pubsub/webhook', { scheme: 'google-pubsub', options: { jwks: { keys: [jwk] } } })).status).toBe(400); // audience is required
    });

    it('a token signed by the configured key is 202; the same messageId again is a duplicate', async () => {
      const first = await push(await jwt({}), 'pubsub-msg-1');
      expect(first.status).toBe(202);
      const again = await push(await jwt({}), 'pubsub-msg-1');
      expect(again.body).toEqual({ deliveryId: first.body.deliveryId, duplicate: true });
      const entry = await h.waitFor('logged', async () => (await deliveries('google-pubsub')).find((d) => d.id === first.body.deliveryId && d.status !== 'received'));
      expect(entry).toMatchObject({ webhookId: 'pubsub-msg-1', status: 'ignored' });
    });

    it.each([
      ['another key', async () => jwt({}, { key: keys.other })],
      ['another service account', async () => jwt({ email: 'evil@attacker.iam.gserviceaccount.com' })],
      ['an unverified email', async () => jwt({ email_verified: false })],
      ['an expired token', async () => jwt({}, { exp: '-1m' })],
      ['an unknown key id', async () => jwt({}, { kid: 'k2' })],
    ])('%s → 401, nothing stored', async (_name, token) => {
      const t = await token();
      const response = await expectNothingStored('google-pubsub', () => push(t));
      expect(response.status).toBe(401);
    });
  });

  describe('duplicates are dropped by each provider\'s own delivery id', () => {
    const resend = async (scheme: string, signed: Signed) => {
      const first = await post(scheme, signed);
      expect(first.status).toBe(202);
      const again = await expectNothingStored(scheme, () => post(scheme, signed));
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ deliveryId: first.body.deliveryId, duplicate: true });
      return first.body.deliveryId as string;
    };

    it('github X-GitHub-Delivery: a redelivery (re-signed, same id) is dropped', async () => {
      const id = randomUUID();
      const body = json({ action: 'opened', issue: { number: 1 } });
      const signed = CASES[0].sign(secrets.get('github')!, body, '');
      signed.headers['x-github-delivery'] = id;
      const deliveryId = await resend('github', signed);
      const entry = await h.waitFor('logged', async () => (await deliveries('github')).find((d) => d.id === deliveryId));
      expect(entry).toMatchObject({ webhookId: id, eventType: 'issues.opened' });
    });

    it('stripe event id (from the body), under a fresh signature and timestamp', async () => {
      const body = json({ id: 'evt_1NG8Du2eZvKYlo2CUI79vXWy', type: 'customer.created', data: { object: { id: 'cus_1' } } });
      const first = await post('stripe', CASES[2].sign(secrets.get('stripe')!, body, ''));
      expect(first.status).toBe(202);
      const again = await post('stripe', CASES[2].sign(secrets.get('stripe')!, body, ''));
      expect(again.body).toEqual({ deliveryId: first.body.deliveryId, duplicate: true });
    });

    it('svix svix-id, slack event_id, and a body hash for schemes without an id (bearer)', async () => {
      await resend('svix', CASES[4].sign(secrets.get('svix')!, json({ type: 'x' }), ''));
      const slackBody = json({ type: 'event_callback', event_id: 'Ev08MFMKH6', event: { type: 'message' } });
      const first = await post('slack', CASES[1].sign(secrets.get('slack')!, slackBody, ''));
      const again = await post('slack', CASES[1].sign(secrets.get('slack')!, slackBody, ''));
      expect([first.status, again.status, again.body.duplicate]).toEqual([202, 200, true]);
      const bearerBody = json({ hello: randomUUID() });
      await resend('bearer', CASES[10].sign(secrets.get('bearer')!, bearerBody, ''));
      const entry = (await deliveries('bearer')).find((d) => d.webhookId === `sha256:${createHash('sha256').update(bearerBody).digest('hex')}`);
      expect(entry).toBeDefined();
    });
  });

  describe('settings', () => {
    it('rotation: several secrets verify, a rotated-out one does not, with no restart', async () => {
      const old = secrets.get('github')!;
      const next = token();
      expect((await h.api('PUT', '/api/connections/wh-github/webhook', { scheme: 'github', secrets: [next, old] })).status).toBe(200);
      expect((await post('github', CASES[0].sign(old, json({ n: 1 }), ''))).status).toBe(202);
      expect((await post('github', CASES[0].sign(next, json({ n: 2 }), ''))).status).toBe(202);
      expect((await h.api('PUT', '/api/connections/wh-github/webhook', { scheme: 'github', secrets: [next] })).status).toBe(200);
      expect((await expectNothingStored('github', () => post('github', CASES[0].sign(old, json({ n: 3 }), '')))).status).toBe(401);
      secrets.set('github', next);
    });

    it('rejects unknown schemes and options that do not fit, naming the field but never a value', async () => {
      const unknown = await h.api('PUT', '/api/connections/wh-github/webhook', { scheme: 'carrier-pigeon', secrets: ['x'] });
      expect(unknown.status).toBe(400);
      const bad = await h.api('PUT', '/api/connections/wh-hmac/webhook', { scheme: 'hmac', secrets: ['topsecretvalue'], options: { header: 'x-sig', algorithm: 'md5', encoding: 'hex' } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toContain('algorithm');
      expect(JSON.stringify(bad.body)).not.toContain('topsecretvalue');
      const none = await h.api('PUT', '/api/connections/wh-github/webhook', { scheme: 'github' });
      expect(none.status).toBe(400);
      // The rejected settings changed nothing: the hmac connection still verifies with its secret.
      const signed = CASES[9].sign(secrets.get('hmac')!, json({ still: 'ok' }), '');
      expect((await post('hmac', signed)).status).toBe(202);
    });

    it('settings stored by the first release (a bare array of whsec_ secrets) still verify as Standard Webhooks', async () => {
      const legacy = `whsec_${randomBytes(24).toString('base64')}`;
      await h.platform.secrets.set('connection-shop-webhook-secrets', JSON.stringify([legacy]), { contentType: 'application/json' });
      await new Promise((r) => setTimeout(r, 1_100)); // the receiver caches settings for 1 s
      expect((await h.api('GET', '/api/connections/shop/webhook')).body).toMatchObject({ configured: true, scheme: 'standard-webhooks', secretCount: 1 });
      const id = `msg_${randomBytes(6).toString('hex')}`;
      const ts = String(now());
      const body = json({ id, type: 'endpoint.ping', data: {} });
      const signature = `v1,${hmac('sha256', Buffer.from(legacy.slice(6), 'base64'), `${id}.${ts}.${body}`, 'base64')}`;
      const response = await fetch(`${h.hostUrl}/api/webhooks/sandbox/shop`, { method: 'POST', headers: { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': signature }, body });
      expect(response.status).toBe(202);
      const entry = await h.waitFor('applied', async () => (await h.api('GET', '/api/connections/shop/deliveries')).body.deliveries.find((d: any) => d.webhookId === id && d.status !== 'received'));
      // The sandbox's own events reach the applier (an unknown type here), not the no-adapter path.
      expect(entry).toMatchObject({ provider: 'sandbox', status: 'ignored' });
      expect(entry.detail).toContain('Not a record event');
    });

    it('the path must name the connection\'s provider or its scheme', async () => {
      const signed = CASES[0].sign(secrets.get('github')!, json({ n: 4 }), '');
      const response = await fetch(`${h.hostUrl}/api/webhooks/stripe/wh-github`, { method: 'POST', headers: signed.headers, body: signed.body });
      expect(response.status).toBe(404);
    });
  });

  // In a describe of its own so that it runs last, after every scheme's requests.
  describe('at the end', () => {
    it('keeps every secret out of the telemetry and host logs', () => {
      const logs = [...h.telemetryLines, ...h.hostLines].join('\n');
      expect(logs.length).toBeGreaterThan(0);
      for (const secret of secrets.values()) expect(logs).not.toContain(secret);
    });
  });
});
