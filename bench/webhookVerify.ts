import { createHash, createHmac, createSign, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { verifyWebhook, webhookSchemes, type VerifyWebhookInput, type WebhookScheme } from '../shared/webhooks';

/**
 * Verifications per second for every webhook scheme, each on a correctly signed ~1 KB request (the
 * size of a typical provider event). Every request is verified once before timing, so a scheme
 * that silently rejects cannot post a flattering number.
 */

export interface BenchWebhookVerifyOptions {
  /** Verifications timed per scheme. Default 2,000. */
  iterations?: number;
}

export interface WebhookVerifyBenchRow {
  scheme: string;
  verificationsPerSecond: number;
}

const NOW = 1_800_000_000;
const URL = 'https://sync.example.com/api/webhooks/bench/conn_1';
const BODY = JSON.stringify({
  id: 'evt_bench',
  type: 'record.updated',
  data: { object: { id: 'cus_123', email: 'ada@example.com', name: 'Ada Lovelace', notes: 'x'.repeat(800) } },
});

const hmacHex = (algorithm: string, key: string | Buffer, text: string) => createHmac(algorithm, key).update(text).digest('hex');
const hmacB64 = (algorithm: string, key: string | Buffer, text: string) => createHmac(algorithm, key).update(text).digest('base64');
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function rs256Token(privateKey: KeyObject, kid: string, claims: object): string {
  const input = `${b64url({ alg: 'RS256', typ: 'JWT', kid })}.${b64url(claims)}`;
  return `${input}.${createSign('sha256').update(input).sign(privateKey).toString('base64url')}`;
}

/** One valid request per scheme; building it is not part of the timing. */
export function webhookBenchRequests(): Record<WebhookScheme, VerifyWebhookInput> {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwks = { keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'bench', alg: 'RS256', use: 'sig' }] };
  const ed = generateKeyPairSync('ed25519');
  const whpk = `whpk_${Buffer.from(ed.publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64')}`;
  const whsec = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;
  const whsecKey = Buffer.alloc(24, 7);
  const signedContent = `msg_bench.${NOW}.${BODY}`;
  const form = 'AccountSid=AC123&Body=hello&From=%2B14155550100&MessageSid=SM123&To=%2B14155550101';
  const twilioData = `${URL}AccountSidAC123BodyhelloFrom+14155550100MessageSidSM123To+14155550101`;
  const graphBody = JSON.stringify({ value: [{ subscriptionId: 's1', changeType: 'updated', resource: 'me/events/1', clientState: 'graph-state' }] });
  const googleToken = rs256Token(rsa.privateKey, 'bench', {
    aud: URL, iss: 'https://accounts.google.com', email: 'push@p.iam.gserviceaccount.com', email_verified: true, exp: NOW + 600, iat: NOW,
  });
  const hsInput = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ aud: 'syncbridge', exp: NOW + 600 })}`;
  const hsToken = `${hsInput}.${createHmac('sha256', 'jwt-secret').update(hsInput).digest('base64url')}`;

  const base = { method: 'POST', url: URL, rawBody: BODY, now: NOW };
  return {
    github: { ...base, secret: 'gh', headers: { 'X-Hub-Signature-256': `sha256=${hmacHex('sha256', 'gh', BODY)}` } },
    slack: { ...base, secret: 'sl', headers: { 'X-Slack-Request-Timestamp': String(NOW), 'X-Slack-Signature': `v0=${hmacHex('sha256', 'sl', `v0:${NOW}:${BODY}`)}` } },
    stripe: { ...base, secret: 'whsec_st', headers: { 'Stripe-Signature': `t=${NOW},v1=${hmacHex('sha256', 'whsec_st', `${NOW}.${BODY}`)}` } },
    shopify: { ...base, secret: 'sh', headers: { 'X-Shopify-Hmac-Sha256': hmacB64('sha256', 'sh', BODY) } },
    'standard-webhooks': {
      ...base,
      secret: whsec,
      headers: { 'webhook-id': 'msg_bench', 'webhook-timestamp': String(NOW), 'webhook-signature': `v1,${hmacB64('sha256', whsecKey, signedContent)}` },
    },
    svix: {
      ...base,
      secret: { publicKeys: [whpk] },
      headers: { 'svix-id': 'msg_bench', 'svix-timestamp': String(NOW), 'svix-signature': `v1a,${sign(null, Buffer.from(signedContent), ed.privateKey).toString('base64')}` },
    },
    notion: { ...base, secret: 'no', headers: { 'X-Notion-Signature': `sha256=${hmacHex('sha256', 'no', BODY)}` } },
    zoom: { ...base, secret: 'zo', headers: { 'x-zm-request-timestamp': String(NOW), 'x-zm-signature': `v0=${hmacHex('sha256', 'zo', `v0:${NOW}:${BODY}`)}` } },
    twilio: { ...base, rawBody: form, secret: 'tw', headers: { 'X-Twilio-Signature': hmacB64('sha1', 'tw', twilioData) } },
    salesforce: { ...base, secret: 'sf', headers: { 'x-sfmc-ens-signature': hmacB64('sha256', 'sf', BODY) } },
    'google-pubsub': { ...base, secret: { jwks, audience: URL, email: 'push@p.iam.gserviceaccount.com' }, headers: { Authorization: `Bearer ${googleToken}` } },
    msgraph: { ...base, rawBody: graphBody, secret: { clientStates: ['graph-state'] }, headers: { 'content-type': 'application/json' } },
    hmac: {
      ...base,
      secret: { secret: 'cu', header: 'X-Signature', algorithm: 'sha512', encoding: 'hex', prefix: 'sha512=' },
      headers: { 'X-Signature': `sha512=${hmacHex('sha512', 'cu', BODY)}` },
    },
    jwt: { ...base, secret: { secret: 'jwt-secret', audience: 'syncbridge' }, headers: { Authorization: `Bearer ${hsToken}` } },
    bearer: { ...base, secret: createHash('sha256').update('bearer').digest('hex'), headers: { Authorization: `Bearer ${createHash('sha256').update('bearer').digest('hex')}` } },
    basic: { ...base, secret: 'hook:password', headers: { Authorization: `Basic ${Buffer.from('hook:password').toString('base64')}` } },
  };
}

export async function benchWebhookVerify(options: BenchWebhookVerifyOptions = {}): Promise<WebhookVerifyBenchRow[]> {
  const iterations = options.iterations ?? 2_000;
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError('benchWebhookVerify: iterations must be a positive integer.');
  const requests = webhookBenchRequests();
  const rows: WebhookVerifyBenchRow[] = [];
  for (const scheme of webhookSchemes) {
    const input = requests[scheme];
    const check = await verifyWebhook(scheme, input);
    if (!check.valid) throw new Error(`benchWebhookVerify: the ${scheme} bench request does not verify: ${check.reason}`);
    for (let i = 0; i < Math.min(200, iterations); i += 1) await verifyWebhook(scheme, input); // warm-up
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i += 1) await verifyWebhook(scheme, input);
    const elapsedSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    rows.push({ scheme, verificationsPerSecond: Math.round(iterations / elapsedSeconds) });
  }
  return rows;
}

export function formatWebhookVerifyTable(rows: readonly WebhookVerifyBenchRow[]): string {
  const width = Math.max(...rows.map((row) => row.scheme.length), 'scheme'.length);
  const lines = [`${'scheme'.padEnd(width)}  verifications/s`, `${'-'.repeat(width)}  ---------------`];
  for (const row of rows) lines.push(`${row.scheme.padEnd(width)}  ${row.verificationsPerSecond.toLocaleString('en-US').padStart(15)}`);
  return lines.join('\n');
}

if (require.main === module) {
  const iterations = Number(process.env.WEBHOOK_BENCH_ITERATIONS ?? 2_000);
  benchWebhookVerify({ iterations })
    .then((rows) => console.log(`webhook signature verification (${iterations} per scheme, ~1 KB bodies)\n${formatWebhookVerifyTable(rows)}`))
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
