import { verifyWebhook, type WebhookScheme } from '../../../shared/webhooks';
import { fixtures, NOW, withoutHeader, wrongSecretFor, type SchemeFixture } from './support/fixtures';
import { jwksOf, newRsaKey, signHs256, signRs256 } from './support/tokens';

/**
 * Fuzz: at least 10,000 requests, mutated from validly signed ones or random, across every scheme.
 * Each mutation is one that must invalidate the request (a changed signed byte, a wrong or rotated
 * secret, a dropped, repeated or corrupted credential, a shifted timestamp), so the oracle is exact:
 * nothing mutated or random may be accepted, and nothing may throw. Unmutated controls prove the
 * harness builds requests the verifier does accept. The seed makes any failure reproducible.
 */

const SEED = Number(process.env.WEBHOOK_FUZZ_SEED ?? 20_261_123);
const MUTATED = 8_000;
const RANDOM = 4_000;

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(SEED);
const int = (below: number) => Math.floor(random() * below);
const pick = <T>(items: readonly T[]): T => items[int(items.length)];
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=_-.,: ';
const randomText = (max: number) => Array.from({ length: int(max) }, () => ALPHABET[int(ALPHABET.length)]).join('');
const randomBytes = (max: number) => Buffer.from(Array.from({ length: int(max) }, () => int(256)));

interface FuzzRequest {
  headers: Record<string, string | string[]> | Headers;
  url: string;
  method: string;
  body: Buffer;
}

/** A scheme as the fuzzer drives it: a valid request, and mutations that must each invalidate it. */
interface FuzzCase {
  scheme: WebhookScheme;
  secret: unknown;
  credentialHeader: string;
  valid(): FuzzRequest;
  mutations: Array<(request: FuzzRequest) => FuzzRequest>;
}

const setHeader = (request: FuzzRequest, name: string, value: string | string[]): FuzzRequest => ({
  ...request,
  headers: { ...withoutHeader(request.headers as Record<string, string>, name), [name]: value },
});
const getHeader = (request: FuzzRequest, name: string): string =>
  Object.entries(request.headers as Record<string, string>).find(([key]) => key.toLowerCase() === name.toLowerCase())![1];

/** Mutations every scheme shares: the credential header dropped, repeated, corrupted or truncated. */
function credentialMutations(header: string): FuzzCase['mutations'] {
  return [
    (request) => ({ ...request, headers: withoutHeader(request.headers as Record<string, string>, header) }),
    (request) => setHeader(request, header, [getHeader(request, header), getHeader(request, header)]),
    (request) => {
      const joined = new Headers(request.headers as Record<string, string>);
      joined.append(header, getHeader(request, header));
      return { ...request, headers: joined };
    },
    (request) => setHeader(request, header, getHeader(request, header).slice(0, -1 - int(6))),
    (request) => setHeader(request, header, getHeader(request, header) + pick(['x', '0', 'A', '=', '!'])),
    (request) => setHeader(request, header, randomText(80) || 'x'),
  ];
}

function fromFixture(fixture: SchemeFixture): FuzzCase {
  const [active, retired] = fixture.secrets;
  const bodyFor = () =>
    fixture.scheme === 'twilio'
      ? Buffer.from(`CallSid=CA${int(1e9)}&Digits=${int(1e4)}&From=${randomText(8).replace(/[^a-z0-9]/gi, 'q')}`)
      : Buffer.concat([Buffer.from('{"id":'), Buffer.from(String(int(1e9))), Buffer.from(',"x":"'), randomBytes(40), Buffer.from('"}')]);
  const signedWith = (secret: string, body: Buffer, timestamp = NOW): FuzzRequest => ({ ...fixture.sign(secret, body, timestamp), body });
  const mutations = [...credentialMutations(fixture.credentialHeader), () => signedWith(wrongSecretFor(fixture), bodyFor()), () => signedWith(retired, bodyFor())];
  if (fixture.coversBody) {
    mutations.push((request) => {
      const body = Buffer.from(request.body);
      if (fixture.scheme === 'twilio') return { ...request, body: Buffer.concat([body, Buffer.from(`&Extra${int(1e6)}=${int(1e6)}`)]) };
      body[int(body.length)] ^= 1 << int(8);
      return { ...request, body };
    });
    if (fixture.scheme !== 'twilio') mutations.push((request) => ({ ...request, body: Buffer.concat([request.body, randomBytes(8), Buffer.from('z')]) }));
  }
  if (fixture.timestamped) {
    mutations.push(() => signedWith(active, bodyFor(), NOW + (random() < 0.5 ? -1 : 1) * (301 + int(1e6))));
  }
  return { scheme: fixture.scheme, secret: fixture.options([active]), credentialHeader: fixture.credentialHeader, valid: () => signedWith(active, bodyFor()), mutations };
}

const AUDIENCE = 'https://sync.example.com/api/webhooks/google/c1';
const EMAIL = 'push@p.iam.gserviceaccount.com';
const googleKey = newRsaKey('g1');
const forgerKey = newRsaKey('g1');
const googleClaims = (overrides: Record<string, unknown> = {}) => ({ aud: AUDIENCE, iss: 'https://accounts.google.com', email: EMAIL, email_verified: true, exp: NOW + 600, iat: NOW, ...overrides });
// Signing RSA per iteration would dominate the run; a pool of pre-signed tokens is enough variety.
const goodGoogleTokens = Array.from({ length: 8 }, (_, i) => signRs256(googleKey, googleClaims({ sub: String(i) })));
const badGoogleTokens = [
  signRs256(forgerKey, googleClaims()),
  signRs256(googleKey, googleClaims({ aud: 'https://other.example.com' })),
  signRs256(googleKey, googleClaims({ exp: NOW - 1 })),
  signRs256(googleKey, googleClaims({ email: 'x@y.iam.gserviceaccount.com' })),
  signRs256(googleKey, googleClaims({ email_verified: false })),
  signRs256(googleKey, googleClaims({ iss: 'https://accounts.example.com' })),
  signHs256('guess', googleClaims()),
];

const googleCase: FuzzCase = {
  scheme: 'google-pubsub',
  secret: { jwks: jwksOf(googleKey), audience: AUDIENCE, email: EMAIL },
  credentialHeader: 'Authorization',
  valid: () => ({ headers: { Authorization: `Bearer ${pick(goodGoogleTokens)}` }, url: AUDIENCE, method: 'POST', body: randomBytes(64) }),
  mutations: [
    ...credentialMutations('Authorization'),
    (request) => setHeader(request, 'Authorization', `Bearer ${pick(badGoogleTokens)}`),
    (request) => {
      const [header, payload, signature] = getHeader(request, 'Authorization').slice('Bearer '.length).split('.');
      const edited = Buffer.from(JSON.stringify(googleClaims({ email: 'attacker@evil.iam.gserviceaccount.com' }))).toString('base64url');
      return setHeader(request, 'Authorization', `Bearer ${header}.${pick([edited, payload + 'A'])}.${signature}`);
    },
  ],
};

const sharedJwtCase: FuzzCase = {
  scheme: 'jwt',
  secret: { secrets: ['jwt-shared-one'], audience: 'syncbridge' },
  credentialHeader: 'Authorization',
  valid: () => ({ headers: { Authorization: `Bearer ${signHs256('jwt-shared-one', { aud: 'syncbridge', exp: NOW + 60, n: int(1e9) })}` }, url: '/h', method: 'POST', body: randomBytes(32) }),
  mutations: [
    ...credentialMutations('Authorization'),
    (request) => setHeader(request, 'Authorization', `Bearer ${signHs256('jwt-shared-two', { aud: 'syncbridge', exp: NOW + 60 })}`),
    (request) => setHeader(request, 'Authorization', `Bearer ${signHs256('jwt-shared-one', { aud: 'other', exp: NOW + 60 })}`),
    (request) => setHeader(request, 'Authorization', `Bearer ${signHs256('jwt-shared-one', { aud: 'syncbridge', exp: NOW - 1 })}`),
  ],
};

const graphNotification = (clientState: string) => Buffer.from(JSON.stringify({ value: [{ subscriptionId: String(int(1e9)), changeType: 'updated', resource: 'me/events/1', clientState }] }));
const msgraphCase: FuzzCase = {
  scheme: 'msgraph',
  secret: { clientStates: ['graph-client-state'] },
  credentialHeader: 'clientState',
  valid: () => ({ headers: { 'content-type': 'application/json' }, url: '/api/webhooks/msgraph/c1', method: 'POST', body: graphNotification('graph-client-state') }),
  mutations: [
    (request) => ({ ...request, body: graphNotification(pick(['graph-client-statE', 'graph-client-stat', '', randomText(20)])) }),
    (request) => ({ ...request, body: request.body.subarray(0, int(request.body.length)) }),
    (request) => ({ ...request, body: Buffer.from(request.body.toString('utf8').replace('graph-client-state', 'retired-state')) }),
  ],
};

const cases: FuzzCase[] = [...fixtures.map(fromFixture), googleCase, sharedJwtCase, msgraphCase];

/** Header names and value shapes an attacker would try, for the random inputs. */
const KNOWN_HEADERS = [
  'X-Hub-Signature-256', 'X-Hub-Signature', 'X-Slack-Signature', 'X-Slack-Request-Timestamp', 'Stripe-Signature', 'X-Shopify-Hmac-Sha256',
  'webhook-id', 'webhook-timestamp', 'webhook-signature', 'svix-id', 'svix-timestamp', 'svix-signature', 'X-Notion-Signature',
  'x-zm-signature', 'x-zm-request-timestamp', 'X-Twilio-Signature', 'x-sfmc-ens-signature', 'Authorization', 'X-Custom-Signature', 'X-Custom-Timestamp',
];
const exactBytes = (length: number) => Buffer.from(Array.from({ length }, () => int(256)));
const hex = (bytes: number) => exactBytes(bytes).toString('hex');
const b64 = (bytes: number) => exactBytes(bytes).toString('base64');
const plausibleValue = (): string =>
  pick([
    () => `sha256=${hex(32)}`,
    () => `v0=${hex(32)}`,
    () => `t=${NOW},v1=${hex(32)},v0=${hex(32)}`,
    () => `v1,${b64(32)} v1a,${b64(64)}`,
    () => b64(32),
    () => b64(20),
    () => String(NOW + int(600) - 300),
    () => `msg_${int(1e9)}`,
    () => `Bearer ${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.${b64(64).replace(/[+/=]/g, 'A')}`,
    () => `Basic ${Buffer.from(`${randomText(6)}:${randomText(6)}`).toString('base64')}`,
    () => `sha512=${hex(64)}`,
    () => randomText(100),
  ])();

function randomRequest(): FuzzRequest {
  const headers: Record<string, string | string[]> = {};
  for (const name of KNOWN_HEADERS) {
    if (random() < 0.4) headers[random() < 0.5 ? name : name.toUpperCase()] = random() < 0.05 ? [plausibleValue(), plausibleValue()] : plausibleValue();
  }
  const body = pick([
    () => randomBytes(200),
    () => Buffer.from(JSON.stringify({ type: pick(['url_verification', 'event_callback']), challenge: randomText(10), event: 'endpoint.url_validation', payload: { plainToken: randomText(8) } })),
    () => Buffer.from(JSON.stringify({ value: [{ clientState: randomText(12) }] })),
    () => Buffer.from(`<OrganizationId>00D${randomText(12).replace(/[^A-Za-z0-9]/g, 'a')}</OrganizationId>`),
    () => Buffer.alloc(0),
  ])();
  const url = pick(['https://sync.example.com/api/webhooks/x/c1', `https://sync.example.com/h?bodySHA256=${hex(32)}`, '/relative/path', 'not a url at all', '']);
  return { headers, url, method: pick(['POST', 'GET', 'PUT', '']), body };
}

async function run(kase: FuzzCase, request: FuzzRequest) {
  return verifyWebhook(kase.scheme, {
    secret: kase.secret as never,
    method: request.method,
    url: request.url,
    headers: request.headers,
    rawBody: request.body,
    now: NOW,
  });
}

describe(`fuzz (seed ${SEED})`, () => {
  it(`accepts nothing among ${MUTATED} mutated and ${RANDOM} random requests, and never throws`, async () => {
    const accepted: string[] = [];
    const thrown: string[] = [];
    let controlsAccepted = 0;
    let controls = 0;

    for (let i = 0; i < MUTATED; i += 1) {
      const kase = cases[i % cases.length];
      const base = kase.valid();
      if (i % 20 === 0) {
        controls += 1;
        const control = await run(kase, base);
        if (control.valid) controlsAccepted += 1;
      }
      const mutationIndex = int(kase.mutations.length);
      const mutated = kase.mutations[mutationIndex](base);
      try {
        const result = await run(kase, mutated);
        if (result.valid) accepted.push(`${kase.scheme} mutation #${mutationIndex} (iteration ${i})`);
      } catch (error) {
        thrown.push(`${kase.scheme} mutation #${mutationIndex}: ${(error as Error).message}`);
      }
    }

    for (let i = 0; i < RANDOM; i += 1) {
      const kase = cases[i % cases.length];
      try {
        const result = await run(kase, randomRequest());
        if (result.valid) accepted.push(`${kase.scheme} random input (iteration ${i})`);
      } catch (error) {
        thrown.push(`${kase.scheme} random input: ${(error as Error).message}`);
      }
    }

    expect(thrown).toEqual([]);
    expect(accepted).toEqual([]);
    expect(controlsAccepted).toBe(controls);
    expect(controls).toBeGreaterThan(100);
  });
});
