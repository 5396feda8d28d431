import { createServer, type Server } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { OAuthClient } from '../../../shared/core/credentials/oauthClient';
import { isSyncBridgeError } from '../../../shared/core/errors';
import { classifyAddress, destinationPolicyFromEnv, PRIVATE_ALLOWED, type DestinationPolicy } from '../../../shared/http/destinationPolicy';
import { ProviderHttpClient } from '../../../shared/http/providerHttpClient';
import { systemClock } from '../../../shared/ports/clock';

/** Azure's default: loopback and private addresses refused too. */
const AZURE: DestinationPolicy = { allowPrivate: false };

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
    return { code: 'resolved', message: '' };
  } catch (error) {
    return isSyncBridgeError(error) ? { code: error.code, message: error.message } : { code: 'other', message: (error as Error).message };
  }
}

/**
 * The guard inside fetch's connection setup (shared/http/destinationGuard.ts), against a real
 * provider stand-in on loopback: what it refuses is never sent (the server counts requests and
 * connections), and a literal address is refused before any socket is asked to connect.
 */
describe('provider destination guard', () => {
  let server: Server;
  let port: number;
  let requests = 0;
  let connections = 0;
  let connects: jest.SpyInstance;
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++;
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/metadata/instance' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(req.method === 'POST' ? '{"access_token":"t","token_type":"Bearer"}' : '{"ok":true}');
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => server.close());
  beforeEach(() => {
    requests = 0;
    connections = 0;
    connects = jest.spyOn(Socket.prototype, 'connect');
  });
  afterEach(() => connects.mockRestore());

  const client = (baseUrl: string, destinationPolicy: DestinationPolicy) => new ProviderHttpClient({ baseUrl, clock: systemClock, destinationPolicy });

  test('classifies IPv4, IPv6 and IPv4-mapped IPv6 addresses into their ranges', () => {
    const table: Array<[string, string]> = [
      ['169.254.169.254', 'link-local'],
      ['fe80::1', 'link-local'],
      ['::ffff:169.254.169.254', 'link-local'],
      ['[::ffff:a9fe:a9fe]', 'link-local'],
      ['0:0:0:0:0:ffff:a9fe:a9fe', 'link-local'],
      ['127.0.0.1', 'loopback'],
      ['127.255.0.9', 'loopback'],
      ['::1', 'loopback'],
      ['[::ffff:7f00:1]', 'loopback'],
      ['0.0.0.0', 'unspecified'],
      ['::', 'unspecified'],
      ['10.1.2.3', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.1.1', 'private'],
      ['100.64.0.1', 'private'],
      ['100.127.255.255', 'private'],
      ['::ffff:10.0.0.1', 'private'],
      ['fd00::1', 'unique-local'],
      ['fc12::1', 'unique-local'],
      ['224.0.0.1', 'multicast'],
      ['ff02::1', 'multicast'],
      ['255.255.255.255', 'reserved'],
      ['::7f00:1', 'reserved'],
      ['100.128.0.1', 'public'],
      ['172.32.0.1', 'public'],
      ['20.50.2.1', 'public'],
      ['2606:4700::1111', 'public'],
      ['::ffff:8.8.8.8', 'public'],
    ];
    expect(table.map(([address]) => [address, classifyAddress(address)])).toEqual(table);
  });

  test('the Azure policy refuses loopback literals (IPv4, IPv6, IPv4-mapped) as configuration, before any socket connects', async () => {
    for (const host of ['127.0.0.1', '[::1]', '[::ffff:127.0.0.1]', '2130706433']) {
      const result = await failure(client(`http://${host}:${port}`, AZURE).request({ path: '/x' }));
      expect(result.code).toBe('configuration');
      expect(result.message).toContain('config.baseUrl');
      expect(result.message).toContain('loopback');
      expect(result.message).toContain('SYNCBRIDGE_ALLOW_PRIVATE_PROVIDER_HOSTS');
    }
    expect(connects).not.toHaveBeenCalled();
    expect(connections).toBe(0);
  });

  test('the metadata address is refused on every platform, literal and IPv4-mapped, without a socket', async () => {
    for (const policy of [PRIVATE_ALLOWED, AZURE]) {
      for (const baseUrl of ['http://169.254.169.254/', 'http://[::ffff:169.254.169.254]/', 'http://[fe80::1]:80/']) {
        const result = await failure(client(baseUrl, policy).request({ path: '/metadata/instance' }));
        expect(result.code).toBe('configuration');
        expect(result.message).toContain('link-local');
      }
    }
    // The loopback-only test guard sits in Socket#connect: had anything tried to connect, the
    // spy would have seen it (and the call would have failed as ECONNREFUSED, `transient`).
    expect(connects).not.toHaveBeenCalled();
  });

  test('a host name that resolves to loopback is refused after resolution, naming the host and address, never the credentials', async () => {
    const result = await failure(new ProviderHttpClient({ baseUrl: `http://localhost:${port}/v1?api_key=k3y-value`, headers: { 'x-api-key': 's3cret-key' }, clock: systemClock, destinationPolicy: AZURE }).request({ path: '/customers' }));
    expect(result.code).toBe('configuration');
    expect(result.message).toMatch(/the host localhost \(resolved to (127\.0\.0\.1|::1)\), a loopback address/);
    expect(result.message).not.toMatch(/s3cret-key|k3y-value/);
    expect(requests).toBe(0);
    expect(connections).toBe(0);
  });

  test('the local policy (private allowed) calls the loopback provider, by literal and by name', async () => {
    expect((await client(`http://127.0.0.1:${port}`, PRIVATE_ALLOWED).request({ path: '/x' })).body).toEqual({ ok: true });
    expect((await client(`http://localhost:${port}`, PRIVATE_ALLOWED).request({ path: '/x' })).body).toEqual({ ok: true });
    const listed: DestinationPolicy = { allowPrivate: false, allowedAddresses: ['127.0.0.1'] };
    expect((await client(`http://127.0.0.1:${port}`, listed).request({ path: '/x' })).body).toEqual({ ok: true });
    expect(requests).toBe(3);
  });

  test('a redirect to the metadata address is refused as configuration and not followed', async () => {
    const result = await failure(client(`http://127.0.0.1:${port}`, PRIVATE_ALLOWED).request({ path: '/redirect' }));
    expect(result.code).toBe('configuration');
    expect(result.message).toContain('redirect (HTTP 302) to http://169.254.169.254');
    expect(requests).toBe(1);
    expect(connects.mock.calls.map((args) => JSON.stringify(args[0]))).not.toContainEqual(expect.stringContaining('169.254'));
  });

  test('the OAuth token URL is guarded the same way, naming config.oauth.tokenUrl', async () => {
    const identity = { tokenUrl: `http://127.0.0.1:${port}/token`, clientId: 'id', clientSecret: 'client-s3cret' };
    const refused = await failure(new OAuthClient({ destinationPolicy: AZURE }).clientCredentials(identity));
    expect(refused.code).toBe('configuration');
    expect(refused.message).toContain('config.oauth.tokenUrl');
    expect(refused.message).toContain('127.0.0.1');
    expect(refused.message).not.toContain('client-s3cret');
    const byName = await failure(new OAuthClient({ destinationPolicy: AZURE }).clientCredentials({ ...identity, tokenUrl: `http://localhost:${port}/token` }));
    expect(byName.code).toBe('configuration');
    expect(requests).toBe(0);
    const granted = await new OAuthClient({ destinationPolicy: PRIVATE_ALLOWED }).clientCredentials(identity);
    expect(granted.accessToken).toBe('t');
  });

  test('SYNCBRIDGE_ALLOW_PRIVATE_PROVIDER_HOSTS defaults by platform and can be set either way', () => {
    expect(destinationPolicyFromEnv({}, true).allowPrivate).toBe(true);
    expect(destinationPolicyFromEnv({}, false).allowPrivate).toBe(false);
    expect(destinationPolicyFromEnv({ SYNCBRIDGE_ALLOW_PRIVATE_PROVIDER_HOSTS: 'true' }, false).allowPrivate).toBe(true);
    expect(destinationPolicyFromEnv({ SYNCBRIDGE_ALLOW_PRIVATE_PROVIDER_HOSTS: 'false' }, true).allowPrivate).toBe(false);
    expect(destinationPolicyFromEnv({ SYNCBRIDGE_ALLOWED_PROVIDER_ADDRESSES: '10.0.0.5, [fd00::5]' }, false).allowedAddresses).toEqual(['10.0.0.5', 'fd00::5']);
    expect(() => destinationPolicyFromEnv({ SYNCBRIDGE_ALLOW_PRIVATE_PROVIDER_HOSTS: 'maybe' }, true)).toThrow(/must be true or false/);
    expect(() => destinationPolicyFromEnv({ SYNCBRIDGE_ALLOWED_PROVIDER_ADDRESSES: 'metadata.internal' }, true)).toThrow(/not an IP address/);
  });
});
