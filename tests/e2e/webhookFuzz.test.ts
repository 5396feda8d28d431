import { createHmac, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { QUEUES } from '../../shared/ports/queue';
import { Harness } from '../support/harness';

/**
 * HTTP fuzzing of the webhook receiver on loopback: 10,000+ random and mutated requests, written as
 * raw bytes on TCP sockets (so nothing a client library would refuse to send is left out), with
 * bounded concurrency. Correctly signed requests are mixed in on purpose. Expected: no 5xx, no 2xx
 * but those, every one of those 202, and the delivery log holding exactly their ids (a rejected
 * request stores and enqueues nothing). FUZZ_SEED reproduces a run; FUZZ_REQUESTS changes its size.
 */
const TOTAL = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const CONCURRENCY = 32;
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: a small seeded generator, so a failing run can be replayed with FUZZ_SEED. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)];
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
  const printable = (n: number) => Array.from({ length: n }, () => String.fromCharCode(int(0x20, 0x7e))).join('');
  return { next, int, pick, bytes, printable };
}

type Header = [string, string];
interface FuzzRequest {
  method: string;
  path: string;
  headers: Header[];
  body: Buffer;
  /** Set only for the correctly signed requests mixed in on purpose. */
  validId?: string;
  /** A raw byte string instead of an HTTP request (malformed requests). */
  raw?: Buffer;
  /** Headers over Node's 16 KB limit: the server may answer 431 and reset before the client reads it. */
  huge?: boolean;
  kind: string;
}

const STD_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const GH_SECRET = randomBytes(20).toString('hex');
const STRIPE_SECRET = `whsec_${randomBytes(24).toString('base64url')}`;
const SLACK_SECRET = randomBytes(16).toString('hex');
const now = () => Math.floor(Date.now() / 1000);
const hmac = (key: string | Buffer, data: string | Buffer, enc: 'hex' | 'base64') => createHmac('sha256', key).update(data).digest(enc);

/** A correctly signed request per connection; `id` is unique, so each one is a new delivery. */
const SIGNERS: Record<string, { path: string; auth: string[]; sign: (id: string, body: string, ts: number) => Header[]; body: (id: string) => string }> = {
  std: {
    path: '/api/webhooks/sandbox/shop',
    auth: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
    body: (id) => JSON.stringify({ id, type: 'endpoint.ping', data: {} }),
    sign: (id, body, ts) => [
      ['webhook-id', id],
      ['webhook-timestamp', String(ts)],
      ['webhook-signature', `v1,${hmac(Buffer.from(STD_SECRET.slice(6), 'base64'), `${id}.${ts}.${body}`, 'base64')}`],
    ],
  },
  github: {
    path: '/api/webhooks/github/fz-github',
    // X-GitHub-Delivery is not signed (GitHub signs the body only): changing it is not a forgery.
    auth: ['x-hub-signature-256'],
    body: (id) => JSON.stringify({ action: 'opened', zen: id }),
    sign: (id, body) => [['x-github-delivery', id], ['x-github-event', 'issues'], ['x-hub-signature-256', `sha256=${hmac(GH_SECRET, body, 'hex')}`]],
  },
  stripe: {
    path: '/api/webhooks/stripe/fz-stripe',
    auth: ['stripe-signature'],
    body: (id) => JSON.stringify({ id, type: 'customer.updated', data: { object: {} } }),
    sign: (_id, body, ts) => [['stripe-signature', `t=${ts},v1=${hmac(STRIPE_SECRET, `${ts}.${body}`, 'hex')}`]],
  },
  slack: {
    path: '/api/webhooks/slack/fz-slack',
    auth: ['x-slack-signature', 'x-slack-request-timestamp'],
    body: (id) => JSON.stringify({ type: 'event_callback', event_id: id, event: { type: 'message' } }),
    sign: (_id, body, ts) => [['x-slack-request-timestamp', String(ts)], ['x-slack-signature', `v0=${hmac(SLACK_SECRET, `v0:${ts}:${body}`, 'hex')}`]],
  },
};
const CONNECTIONS = Object.keys(SIGNERS);
const CONTENT_TYPES = ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', '', 'application/json; charset=utf-16', '*/*'];
const METHODS = ['GET', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'POST'];

/** Replaces one character of `value` (within the first 40) by one that differs even case-insensitively. */
function flipChar(r: ReturnType<typeof rng>, value: string): string {
  if (value.length === 0) return 'x';
  const limit = Math.min(value.length, 40);
  const at = r.int(Math.max(0, value.indexOf(',') + 1, value.indexOf('=') + 1) % limit, limit - 1);
  const alphabet = 'ghijklmnopqrstuvwxyz0123456789+/';
  let next = value[at];
  while (next.toLowerCase() === value[at].toLowerCase()) next = r.pick([...alphabet]);
  return value.slice(0, at) + next + value.slice(at + 1);
}

function generate(r: ReturnType<typeof rng>, n: number): FuzzRequest {
  const conn = r.pick(CONNECTIONS);
  const signer = SIGNERS[conn];
  const id = `fz_${n}_${r.int(0, 1e9)}`;
  const text = signer.body(id);
  let body = Buffer.from(text);
  let headers: Header[] = [['content-type', 'application/json'], ...signer.sign(id, text, now())];
  let path = signer.path;
  let method = 'POST';

  // About 3 % are correct on purpose.
  if (r.next() < 0.03) return { method, path, headers, body, validId: `${conn}:${id}`, kind: 'valid' };

  // One mutation that makes the request unauthentic…
  const kind = r.pick(['flip-signature', 'body-byte', 'truncate', 'random-body', 'drop-auth', 'garbage-auth', 'duplicate-auth', 'stale', 'future', 'wrong-secret', 'other-version', 'random-path', 'method', 'raw', 'empty-auth', 'signed-not-json']);
  const authName = r.pick(signer.auth);
  const sigName = signer.auth.find((a) => /signature/.test(a))!;
  switch (kind) {
    case 'flip-signature':
      headers = headers.map(([k, v]) => [k, k === sigName ? flipChar(r, v) : v]);
      break;
    case 'body-byte': {
      const at = r.int(0, body.length - 1);
      body = Buffer.from(body);
      body[at] = (body[at] + r.int(1, 255)) % 256;
      break;
    }
    case 'truncate':
      body = body.subarray(0, r.int(0, body.length - 1));
      break;
    case 'signed-not-json': {
      // Authentic but not JSON: 400 after the signature check, and still nothing stored.
      // ASCII only, so the signed string and the sent bytes agree; the trailing NUL keeps it from ever parsing.
      const raw = `{${r.printable(r.int(0, 200))}\u0000`;
      headers = [['content-type', 'application/json'], ...signer.sign(id, raw, now())];
      body = Buffer.from(raw);
      break;
    }
    case 'random-body':
      body = r.bytes(r.int(0, 4096));
      break;
    case 'drop-auth':
      headers = headers.filter(([k]) => k !== authName);
      break;
    case 'empty-auth':
      headers = headers.map(([k, v]) => [k, k === authName ? '' : v]);
      break;
    case 'garbage-auth':
      headers = headers.map(([k, v]) => [k, k === sigName ? r.printable(r.int(1, 300)) : v]);
      break;
    case 'duplicate-auth': {
      // The header twice: its value again, garbage, or flipped (a repeated header is a rejection, never a skipped check).
      const original = headers.find(([k]) => k === authName)!;
      headers.push([authName, r.pick([() => original[1], () => r.printable(r.int(1, 80)), () => flipChar(r, original[1])])()]);
      break;
    }
    case 'stale':
    case 'future': {
      if (conn === 'github') {
        headers = headers.map(([k, v]) => [k, k === sigName ? flipChar(r, v) : v]);
        break;
      }
      const ts = now() + (kind === 'stale' ? -r.int(301, 1e6) : r.int(301, 1e6));
      headers = [['content-type', 'application/json'], ...signer.sign(id, text, ts)];
      break;
    }
    case 'wrong-secret':
      // The same layout, the MAC of another key (hex for github/stripe/slack, base64 for Standard Webhooks).
      headers = headers.map(([k, v]) => [k, k === sigName ? v.replace(/[0-9a-f]{64}|[A-Za-z0-9+/]{43}=/, (m) => hmac(randomBytes(16), text, m.endsWith('=') ? 'base64' : 'hex')) : v]);
      break;
    case 'other-version':
      headers = headers.map(([k, v]) => [k, k === sigName ? v.replace(/^v1,/, 'v2,').replace(/^sha256=/, 'sha1=').replace(/v1=/, 'v0=').replace(/^v0=/, 'v1=') : v]);
      break;
    case 'random-path':
      path = `/api/webhooks/${r.pick([
        () => r.printable(r.int(0, 30)).replace(/[\s?#]/g, '_'),
        () => `${r.pick(['sandbox', 'github', 'stripe', 'slack'])}/${r.pick(['shop2', 'SHOP', 'fz-github/x', '..%2fshop', '%00', 'shop%20', encodeURIComponent(r.printable(8))])}`,
        () => `sandbox/shop/${r.printable(r.int(1, 10)).replace(/[\s?#]/g, '_')}`,
        () => 'x/'.repeat(r.int(1, 200)),
      ])()}`.replace(/ /g, '%20');
      // A suffix of dot segments ("/.", "/./") is the same endpoint once the URL is resolved, as
      // every HTTP stack resolves it: still correctly signed for it, so not a random path.
      if (new URL(path, 'http://fuzz').pathname.replace(/\/+$/, '') === new URL(signer.path, 'http://fuzz').pathname) path += 'x';
      break;
    case 'method':
      method = r.pick(METHODS.filter((m) => m !== 'POST'));
      // A body on GET/HEAD is legal HTTP but makes the Functions request class warn on every one.
      if (method === 'GET' || method === 'HEAD') body = Buffer.alloc(0);
      break;
    case 'raw':
      return { method, path, headers, body, kind, raw: r.pick([() => r.bytes(r.int(1, 2048)), () => Buffer.from(`POST ${path} HTTP/1.1\r\n${r.printable(r.int(0, 500))}\r\n\r\n`), () => Buffer.from(`${r.printable(r.int(1, 60))}\r\n\r\n`)])() };
  }

  // …then noise that is harmless on its own: odd content types, junk headers, huge headers.
  if (r.next() < 0.3) headers = headers.map(([k, v]) => [k, k === 'content-type' ? r.pick(CONTENT_TYPES) : v]);
  if (r.next() < 0.2) for (let i = r.int(1, 20); i > 0; i--) headers.push([`x-${r.printable(r.int(1, 20)).replace(/[^A-Za-z0-9-]/g, 'a')}`, r.printable(r.int(0, 200))]);
  if (r.next() < 0.05) headers.push(['x-pad', 'a'.repeat(r.int(4_000, 100_000))]);
  if (r.next() < 0.05) headers.push(['content-type', r.pick(CONTENT_TYPES)]);
  const huge = headers.reduce((sum, [k, v]) => sum + k.length + v.length + 4, 0) > 16_000;
  return { method, path, headers, body, kind, huge };
}

/** Sends one request on its own socket and returns the status of the first response (0: none). */
function send(port: number, request: FuzzRequest): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      socket.destroy();
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(Buffer.concat(chunks).subarray(0, 64).toString('latin1'));
      resolve(match ? Number(match[1]) : 0);
    };
    socket.setTimeout(10_000, done);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (Buffer.concat(chunks).includes('\r\n')) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => {
      if (request.raw) {
        socket.end(request.raw);
        return;
      }
      const head = [`${request.method} ${request.path} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close', `content-length: ${request.body.length}`, ...request.headers.map(([k, v]) => `${k}: ${v}`)].join('\r\n');
      socket.end(Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), request.body]));
    });
  });
}

describe('webhook receiver fuzzing', () => {
  let h: Harness;
  let port: number;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 5 } });
    port = Number(new URL(h.hostUrl).port);
    expect((await h.api('PUT', '/api/connections/shop/webhook', { secrets: [STD_SECRET] })).status).toBe(200);
    for (const [scheme, secret] of [['github', GH_SECRET], ['stripe', STRIPE_SECRET], ['slack', SLACK_SECRET]] as const) {
      expect((await h.api('POST', '/api/connections', { id: `fz-${scheme}`, provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, credentials: { type: 'none' } })).status).toBe(201);
      expect((await h.api('PUT', `/api/connections/fz-${scheme}/webhook`, { scheme, secrets: [secret] })).status).toBe(200);
    }
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  it(`${TOTAL} random and mutated requests: no 5xx, nothing unsigned accepted, nothing stored for the rejected`, async () => {
    const r = rng(SEED);
    const records = async () => (await h.api('GET', '/api/connections/shop/records?entity=customers&limit=1000')).body;
    const recordsBefore = await records();
    const deadBefore = h.platform.queue.depth(QUEUES.inbound).deadLettered;

    const statuses = new Map<string, Map<number, number>>();
    const failures: string[] = [];
    const validIds: string[] = [];
    let next = 0;
    const started = Date.now();
    const worker = async () => {
      while (next < TOTAL) {
        const n = next++;
        const request = generate(r, n);
        const status = await send(port, request);
        const byKind = statuses.get(request.kind) ?? new Map<number, number>();
        byKind.set(status, (byKind.get(status) ?? 0) + 1);
        statuses.set(request.kind, byKind);
        if (request.validId) {
          validIds.push(request.validId);
          if (status !== 202) failures.push(`#${n} valid ${request.validId} → ${status}`);
        } else if (status >= 500) failures.push(`#${n} ${request.kind} → ${status}`);
        else if (status >= 200 && status < 300) failures.push(`#${n} ${request.kind} accepted (${status}): ${request.method} ${request.path} ${JSON.stringify(request.headers).slice(0, 400)}`);
        // Only a request that is not HTTP may go unanswered (the server may just close the socket).
        else if (status === 0 && !request.raw && !request.huge) failures.push(`#${n} ${request.kind} got no answer`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (Date.now() - started) / 1000;
    const summary = Object.fromEntries([...statuses].map(([kind, m]) => [kind, Object.fromEntries(m)]));
    // Printed so the report can quote the distribution; failures name the seed to replay.
    console.log(`fuzz seed ${SEED}: ${TOTAL} requests in ${seconds.toFixed(1)} s`, JSON.stringify(summary));
    expect({ seed: SEED, failures: failures.slice(0, 20) }).toEqual({ seed: SEED, failures: [] });
    expect(validIds.length).toBeGreaterThan(TOTAL * 0.015);

    // Nothing stored for the rejected: each connection's log holds exactly the valid ids.
    await h.waitFor('the queue to drain', async () => h.platform.queue.depth(QUEUES.inbound).active === 0, 30_000);
    for (const conn of CONNECTIONS) {
      const id = conn === 'std' ? 'shop' : `fz-${conn}`;
      const logged: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await h.api('GET', `/api/connections/${id}/deliveries?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
        logged.push(...page.body.deliveries.map((d: any) => d.webhookId));
        cursor = page.body.nextCursor ?? undefined;
      } while (cursor);
      const expected = validIds.filter((v) => v.startsWith(`${conn}:`)).map((v) => v.slice(conn.length + 1));
      expect(new Set(logged)).toEqual(new Set(expected));
      expect(logged).toHaveLength(expected.length);
    }
    expect(h.platform.queue.depth(QUEUES.inbound).deadLettered).toBe(deadBefore);
    expect(await records()).toEqual(recordsBefore);
    const health = (await h.api('GET', '/api/connections/shop/webhook')).body.health;
    expect(health.rejected).toBeGreaterThan(0);
  }, 120_000);
});
