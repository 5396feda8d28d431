import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { selfSignedCertificate } from './selfSignedCertificate';

/**
 * The Key Vault secrets REST calls the @azure/keyvault-secrets SDK makes, over HTTPS on loopback
 * with a certificate made for this run by openssl (trusted by the client through `tlsOptions.ca`,
 * never by turning verification off):
 * PUT /secrets/{name}, GET /secrets/{name}/{version?}, GET /secrets/{name}/versions,
 * PATCH /secrets/{name}/{version}, DELETE /secrets/{name}, GET /deletedsecrets/{name},
 * POST /deletedsecrets/{name}/recover.
 * As the vault does: a disabled version answers a GET with 403 (inner error SecretDisabled) but is
 * still listed, with `attributes.enabled: false`; the listing comes in no chronological order (here
 * ordered by version id, as the vault's appears to be); `created` is in whole seconds; a PATCH
 * changes only the fields it sends, and `tags` sent replace the tags.
 * A request without the expected bearer token gets the vault's 401 challenge
 * (`WWW-Authenticate: Bearer authorization=…, resource=…`). Deleted secrets stay soft-deleted (the
 * name is taken, 409 on set) until recovered, as in a vault with purge protection.
 */
export interface KeyVaultTestServer {
  vaultUri: string;
  /** PEM of the server's self-signed certificate, for the client's tlsOptions.ca. */
  ca: string;
  credential: TestTokenCredential;
  /** Requests served, by "METHOD /path-kind" (e.g. "GET secret"), challenges included. */
  readonly requests: Array<{ method: string; path: string; status: number; authorized: boolean }>;
  /** The next `count` authorized requests are answered 429 with Retry-After: `retryAfterSeconds`. */
  throttleNext(count: number, retryAfterSeconds?: number): void;
  /** Moves the vault's clock (its `created`/`updated` stamps, in whole seconds) forward. */
  advanceTime(seconds: number): void;
  /** The stored versions of a vault name (lower-cased), newest last. */
  versionsOf(vaultName: string): Array<{ version: string; value: string; contentType?: string; exp?: number; enabled: boolean; tags: Record<string, string> }>;
  close(): Promise<void>;
}

/** A real TokenCredential that hands out one bearer token and records the scopes it was asked for. */
export class TestTokenCredential implements TokenCredential {
  readonly token = `kv-test-token-${randomUUID()}`;
  readonly scopesAsked: string[][] = [];
  async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
    this.scopesAsked.push(Array.isArray(scopes) ? scopes : [scopes]);
    return { token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

interface Version {
  version: string;
  value: string;
  contentType?: string;
  exp?: number;
  enabled: boolean;
  tags: Record<string, string>;
  created: number;
  updated: number;
}

export async function startKeyVaultTestServer(): Promise<KeyVaultTestServer> {
  const { key, cert } = selfSignedCertificate();

  const credential = new TestTokenCredential();
  const secrets = new Map<string, Version[]>();
  const deleted = new Map<string, Version[]>();
  const requests: KeyVaultTestServer['requests'] = [];
  let throttle = { count: 0, retryAfter: 0 };
  let base = '';
  let clockOffsetSeconds = 0;
  const nowSeconds = () => Math.floor(Date.now() / 1000) + clockOffsetSeconds;

  const bundle = (name: string, v: Version, withValue: boolean) => ({
    ...(withValue ? { value: v.value } : {}),
    id: `${base}/secrets/${name}/${v.version}`,
    ...(v.contentType ? { contentType: v.contentType } : {}),
    attributes: { enabled: v.enabled, created: v.created, updated: v.updated, ...(v.exp ? { exp: v.exp } : {}), recoveryLevel: 'Recoverable' },
    tags: v.tags,
  });
  const deletedBundle = (name: string, versions: Version[]) => ({
    ...bundle(name, versions[versions.length - 1], false),
    recoveryId: `${base}/deletedsecrets/${name}`,
    deletedDate: Math.floor(Date.now() / 1000),
    scheduledPurgeDate: Math.floor(Date.now() / 1000) + 90 * 86400,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse, body: string): Promise<[number, unknown?, Record<string, string>?]> => {
    const url = new URL(req.url ?? '/', base);
    if (!url.searchParams.get('api-version')) return [400, { error: { code: 'BadParameter', message: 'api-version is required' } }];
    if (req.headers.authorization !== `Bearer ${credential.token}`) {
      return [401, { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } }, {
        'www-authenticate': 'Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"',
      }];
    }
    if (throttle.count > 0) {
      throttle.count -= 1;
      return [429, { error: { code: 'Throttled', message: 'Request was not processed because too many requests were received.' } }, { 'retry-after': String(throttle.retryAfter) }];
    }
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const name = (parts[1] ?? '').toLowerCase();
    if (!/^[0-9a-z-]{1,127}$/.test(name)) return [400, { error: { code: 'BadParameter', message: 'The request URI contains an invalid name' } }];
    const notFound = (what: string): [number, unknown] => [404, { error: { code: 'SecretNotFound', message: `${what} not found: ${name}` } }];
    if (parts[0] === 'secrets') {
      if (req.method === 'PUT' && parts.length === 2) {
        if (deleted.has(name)) return [409, { error: { code: 'Conflict', message: `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.` } }];
        const input = JSON.parse(body) as { value: string; contentType?: string; tags?: Record<string, string>; attributes?: { exp?: number } };
        const now = nowSeconds();
        const v: Version = { version: randomUUID().replace(/-/g, ''), value: input.value, contentType: input.contentType, exp: input.attributes?.exp, enabled: true, tags: input.tags ?? {}, created: now, updated: now };
        secrets.set(name, [...(secrets.get(name) ?? []), v]);
        return [200, bundle(name, v, true)];
      }
      const versions = secrets.get(name);
      if (req.method === 'GET' && parts[2] === 'versions') {
        if (!versions) return notFound('Secret');
        // Paged like the vault: at most `maxresults` (default 25) per page, then a nextLink.
        const size = Math.min(25, Number(url.searchParams.get('maxresults') ?? 25) || 25);
        const skip = Number(url.searchParams.get('$skiptoken') ?? 0);
        const page = [...versions].sort((a, b) => a.version.localeCompare(b.version)).slice(skip, skip + size);
        const next = skip + size < versions.length ? `${base}/secrets/${name}/versions?api-version=${url.searchParams.get('api-version')}&maxresults=${size}&$skiptoken=${skip + size}` : null;
        return [200, { value: page.map((v) => bundle(name, v, false)), nextLink: next }];
      }
      if (req.method === 'GET') {
        if (!versions) return notFound('Secret');
        const v = parts[2] ? versions.find((x) => x.version === parts[2]) : versions[versions.length - 1];
        if (!v) return notFound('Secret version');
        if (!v.enabled) return [403, { error: { code: 'Forbidden', message: 'Operation get is not allowed on a disabled secret.', innererror: { code: 'SecretDisabled' } } }];
        return [200, bundle(name, v, true)];
      }
      if (req.method === 'PATCH' && parts.length === 3) {
        const v = versions?.find((x) => x.version === parts[2]);
        if (!v) return notFound('Secret version');
        const input = JSON.parse(body || '{}') as { contentType?: string; tags?: Record<string, string>; attributes?: { enabled?: boolean; exp?: number } };
        if (input.contentType !== undefined) v.contentType = input.contentType;
        if (input.tags !== undefined) v.tags = input.tags;
        if (input.attributes?.enabled !== undefined) v.enabled = input.attributes.enabled;
        if (input.attributes?.exp !== undefined) v.exp = input.attributes.exp;
        v.updated = nowSeconds();
        return [200, bundle(name, v, false)];
      }
      if (req.method === 'DELETE' && parts.length === 2) {
        if (!versions) return notFound('Secret');
        secrets.delete(name);
        deleted.set(name, versions);
        return [200, deletedBundle(name, versions)];
      }
    }
    if (parts[0] === 'deletedsecrets') {
      const versions = deleted.get(name);
      if (req.method === 'GET' && parts.length === 2) return versions ? [200, deletedBundle(name, versions)] : notFound('Deleted secret');
      if (req.method === 'POST' && parts[2] === 'recover') {
        if (!versions) return notFound('Deleted secret');
        deleted.delete(name);
        secrets.set(name, versions);
        return [200, bundle(name, versions[versions.length - 1], false)];
      }
    }
    return [405, { error: { code: 'BadRequest', message: `${req.method} ${url.pathname} is not served by the test vault` } }];
  };

  const server: Server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks).toString('utf8')).then(([status, payload, headers]) => {
        requests.push({ method: req.method ?? '', path: new URL(req.url ?? '/', base).pathname, status, authorized: req.headers.authorization === `Bearer ${credential.token}` });
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-ms-keyvault-service-version': '1.9.0.0', ...headers });
        res.end(payload === undefined ? '' : JSON.stringify(payload));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    vaultUri: base,
    ca: cert,
    credential,
    requests,
    throttleNext(count, retryAfterSeconds = 0) {
      throttle = { count, retryAfter: retryAfterSeconds };
    },
    advanceTime(seconds) {
      clockOffsetSeconds += seconds;
    },
    versionsOf(vaultName) {
      return (secrets.get(vaultName.toLowerCase()) ?? []).map(({ created: _c, updated: _u, ...v }) => v);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
