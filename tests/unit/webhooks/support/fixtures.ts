import type { WebhookScheme } from '../../../../shared/webhooks';
import {
  githubSignature,
  newWhsec,
  notionSignature,
  salesforceSignature,
  shopifySignature,
  slackSignature,
  standardSignature,
  stripeHeader,
  twilioSignature,
  hmacHex,
  zoomSignature,
} from './signers';

export const NOW = 1_800_000_000;

export interface SignedParts {
  headers: Record<string, string>;
  url: string;
  method: string;
}

/**
 * One scheme seen through the generic checks every scheme must pass: how to sign a request with a
 * secret, which header carries the credential, and whether the body and a timestamp are covered.
 */
export interface SchemeFixture {
  scheme: WebhookScheme;
  /** Two distinct active secrets (rotation). */
  secrets: [string, string];
  /** What to pass as `secret` for these active secrets. */
  options(active: string[]): unknown;
  sign(secret: string, body: Buffer, timestamp: number): SignedParts;
  /** The header whose absence, repetition or corruption must reject. */
  credentialHeader: string;
  coversBody: boolean;
  timestamped: boolean;
}

const url = 'https://sync.example.com/api/webhooks/x/conn_1';
const post = (headers: Record<string, string>): SignedParts => ({ headers, url, method: 'POST' });

export const fixtures: SchemeFixture[] = [
  {
    scheme: 'github',
    secrets: ['gh-secret-one', 'gh-secret-two'],
    options: (active) => active,
    sign: (secret, body) => post({ 'X-Hub-Signature-256': githubSignature(secret, body), 'X-GitHub-Event': 'issues' }),
    credentialHeader: 'X-Hub-Signature-256',
    coversBody: true,
    timestamped: false,
  },
  {
    scheme: 'slack',
    secrets: ['slack-signing-one', 'slack-signing-two'],
    options: (active) => active,
    sign: (secret, body, ts) => post({ 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': slackSignature(secret, ts, body) }),
    credentialHeader: 'X-Slack-Signature',
    coversBody: true,
    timestamped: true,
  },
  {
    scheme: 'stripe',
    secrets: ['whsec_stripe_one', 'whsec_stripe_two'],
    options: (active) => ({ secrets: active }),
    sign: (secret, body, ts) => post({ 'Stripe-Signature': stripeHeader(secret, ts, body) }),
    credentialHeader: 'Stripe-Signature',
    coversBody: true,
    timestamped: true,
  },
  {
    scheme: 'shopify',
    secrets: ['shpss_one', 'shpss_two'],
    options: (active) => active,
    sign: (secret, body) => post({ 'X-Shopify-Hmac-Sha256': shopifySignature(secret, body), 'X-Shopify-Topic': 'orders/create' }),
    credentialHeader: 'X-Shopify-Hmac-Sha256',
    coversBody: true,
    timestamped: false,
  },
  {
    scheme: 'standard-webhooks',
    secrets: [newWhsec('std-one'), newWhsec('std-two')],
    options: (active) => active,
    sign: (secret, body, ts) =>
      post({ 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': standardSignature(secret, 'msg_1', ts, body) }),
    credentialHeader: 'webhook-signature',
    coversBody: true,
    timestamped: true,
  },
  {
    scheme: 'svix',
    secrets: [newWhsec('svix-one'), newWhsec('svix-two')],
    options: (active) => ({ secrets: active }),
    sign: (secret, body, ts) =>
      post({ 'svix-id': 'msg_2', 'svix-timestamp': String(ts), 'svix-signature': standardSignature(secret, 'msg_2', ts, body) }),
    credentialHeader: 'svix-signature',
    coversBody: true,
    timestamped: true,
  },
  {
    scheme: 'notion',
    secrets: ['secret_notion_one', 'secret_notion_two'],
    options: (active) => active,
    sign: (secret, body) => post({ 'X-Notion-Signature': notionSignature(secret, body) }),
    credentialHeader: 'X-Notion-Signature',
    coversBody: true,
    timestamped: false,
  },
  {
    scheme: 'zoom',
    secrets: ['zoom-token-one', 'zoom-token-two'],
    options: (active) => active,
    sign: (secret, body, ts) => post({ 'x-zm-request-timestamp': String(ts), 'x-zm-signature': zoomSignature(secret, ts, body) }),
    credentialHeader: 'x-zm-signature',
    coversBody: true,
    timestamped: true,
  },
  {
    scheme: 'twilio',
    secrets: ['twilio-auth-one', 'twilio-auth-two'],
    options: (active) => active,
    sign: (secret, body) =>
      post({ 'X-Twilio-Signature': twilioSignature(secret, url, Object.fromEntries(new URLSearchParams(body.toString('utf8')))) }),
    credentialHeader: 'X-Twilio-Signature',
    coversBody: true,
    timestamped: false,
  },
  {
    scheme: 'salesforce',
    secrets: ['ens-key-one', 'ens-key-two'],
    options: (active) => ({ signatureKeys: active }),
    sign: (secret, body) => post({ 'x-sfmc-ens-signature': salesforceSignature(secret, body) }),
    credentialHeader: 'x-sfmc-ens-signature',
    coversBody: true,
    timestamped: false,
  },
  {
    scheme: 'hmac',
    secrets: ['custom-one', 'custom-two'],
    options: (active) => ({ secrets: active, header: 'X-Custom-Signature', algorithm: 'sha512', encoding: 'hex', prefix: 'sha512=', timestampHeader: 'X-Custom-Timestamp' }),
    sign: (secret, body, ts) =>
      post({ 'X-Custom-Timestamp': String(ts), 'X-Custom-Signature': `sha512=${hmacHex('sha512', secret, `${ts}.`, body)}` }),
    credentialHeader: 'X-Custom-Signature',
    coversBody: true,
    timestamped: true,
  },
  {
    scheme: 'bearer',
    secrets: ['token-one-abcdef', 'token-two-ghijkl'],
    options: (active) => active,
    sign: (secret) => post({ Authorization: `Bearer ${secret}` }),
    credentialHeader: 'Authorization',
    coversBody: false,
    timestamped: false,
  },
  {
    scheme: 'basic',
    secrets: ['hook:pass-one', 'hook:pass-two'],
    options: (active) => active,
    sign: (secret) => post({ Authorization: `Basic ${Buffer.from(secret).toString('base64')}` }),
    credentialHeader: 'Authorization',
    coversBody: false,
    timestamped: false,
  },
];

/**
 * A secret no fixture uses. Appending text to a whsec_ secret is no good: Node's base64 decoder
 * skips characters it does not know, so "whsec_…!" would decode to the very same key.
 */
export function wrongSecretFor(fixture: SchemeFixture): string {
  const [active] = fixture.secrets;
  if (active.startsWith('whsec_')) return newWhsec(`${active}-wrong`);
  if (fixture.scheme === 'basic') return 'hook:wrong-password';
  return `${active}-wrong`;
}

/** Returns the header map with `name` (any case) removed. */
export function withoutHeader(headers: Record<string, string>, name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([key]) => key.toLowerCase() !== name.toLowerCase()));
}

/** Finds the value of `name` (any case). */
export function headerValue(headers: Record<string, string>, name: string): string {
  const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === name.toLowerCase());
  if (!entry) throw new Error(`fixture has no ${name} header`);
  return entry[1];
}
