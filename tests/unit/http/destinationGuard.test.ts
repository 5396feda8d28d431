import { createServer, type Server } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { sandboxProvider } from '../../../shared/adapters/providers/sandbox';
import { OAuthClient } from '../../../shared/core/credentials/oauthClient';
import { readOAuthProviderConfig } from '../../../shared/core/credentials/oauthProviderConfig';
import { isSyncBridgeError } from '../../../shared/core/errors';
import type { Connection } from '../../../shared/core/model';
import { classifyAddress, destinationPolicyFromEnv, providerDestinationPolicy, setProviderDestinationPolicy, type DestinationPolicy } from '../../../shared/http/destinationGuard';
import { ProviderHttpClient } from '../../../shared/http/providerHttpClient';
import { systemClock } from '../../../shared/ports/clock';

const LOCAL: DestinationPolicy = { allowPrivate: true };
const AZURE: DestinationPolicy = { allowPrivate: false };

/** A resolver standing in for DNS: every name resolves to `address` (a name that rebinds to the metadata service). */
function resolvesTo(address: string, asked: string[] = []) {
  return async (hostname: string) => {
    asked.push(hostname);
    return [address];
  };
}

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
    return { code: 'resolved', message: '' };
  } catch (error) {
    return isSyncBridgeError(error) ? { code: error.code, message: error.message } : { code: 'other', message: (error as Error).message };
  }
}

describe('provider destination guard', () => {
  let server: Server;
  let port: number;
  let hits = 0;
  let connects: jest.SpyInstance;
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(req.method === 'POST' ? '{"access_token":"t","token_type":"Bearer"}' : '{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => server.close());
  beforeEach(() => {
    hits = 0;
    connects = jest.spyOn(Socket.prototype, 'connect');
  });
  afterEach(() => connects.mockRestore());

  test('classifies IPv4, IPv6 and IPv4-mapped IPv6 addresses into their ranges', () => {
    const table: Array<[string, string]> = [
      ['169.254.169.254', 'link-local'],
      ['fe80::1', 'link-local'],
      ['::ffff:169.254.169.254', 'link-local'],
      ['::ffff:a9fe:a9fe', 'link-local'],
      ['0:0:0:0:0:ffff:a9fe:a9fe', 'link-local'],
      ['[::ffff:127.0.0.1]', 'loopback'],
      ['127.0.0.1', 'loopback'],
      ['127.255.0.9', 'loopback'],
      ['::1', 'loopback'],
      ['0.0.0.0', 'unspecified'],
      ['::', 'unspecified'],
      ['10.1.2.3', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.1.1', 'private'],
      ['100.64.0.1', 'private'],
      ['fd00::1', 'unique-local'],
      ['fc12::1', 'unique-local'],
      ['224.0.0.1', 'multicast'],
      ['ff02::1', 'multicast'],
      ['255.255.255.255', 'reserved'],
      ['172.32.0.1', 'public'],
      ['20.50.2.1', 'public'],
      ['2606:4700::1111', 'public'],
      ['::ffff:8.8.8.8', 'public'],
    ];
    expect(table.map(([address]) => [address, classifyAddress(address)])).toEqual(table);
  });

  test('a base URL whose name resolves to the metadata service is refused as configuration before any socket opens, on every platform', async () => {
    for (const policy of [LOCAL, AZURE]) {
      const asked: string[] = [];
      const client = new ProviderHttpClient({ baseUrl: 'http://metadata.example/', clock: systemClock, destinationPolicy: policy, resolve: resolvesTo('169.254.169.254', asked) });
      const result = await failure(client.request({ path: '/metadata/instance' }));
      expect(result.code).toBe('configuration');
      expect(result.message).toContain('config.baseUrl');
      expect(result.message).toContain('169.254.169.254');
      expect(result.message).toContain('link-local');
      expect(asked).toEqual(['metadata.example']);
    }
    // Refused after resolution: no socket was ever asked to connect (the loopback-only test guard,
    // which sits in Socket#connect, would have answered ECONNREFUSED, a `transient` error, instead).
    expect(connects).not.toHaveBeenCalled();
  });

  test('a literal metadata address in the base URL is refused without a socket', async () => {
    for (const baseUrl of ['http://169.254.169.254/', 'http://[::ffff:169.254.169.254]/', 'http://[fe80::1]:80/']) {
      const client = new ProviderHttpClient({ baseUrl, clock: systemClock, destinationPolicy: LOCAL, resolve: resolvesTo('20.50.2.1') });
      const result = await failure(client.request({ path: '/x' }));
      expect(result).toEqual({ code: 'configuration', message: expect.stringContaining('link-local') });
    }
    expect(connects).not.toHaveBeenCalled();
  });

  test('the Azure-style policy refuses a loopback provider (literal and by name, through real DNS); the local one calls it', async () => {
    const literal = await failure(new ProviderHttpClient({ baseUrl: `http://127.0.0.1:${port}`, clock: systemClock, destinationPolicy: AZURE }).request({ path: '/x' }));
    expect(literal.code).toBe('configuration');
    expect(literal.message).toContain('SYNCBRIDGE_ALLOW_PRIVATE_PROVIDER_HOSTS');
    const byName = await failure(new ProviderHttpClient({ baseUrl: `http://localhost:${port}`, clock: systemClock, destinationPolicy: AZURE }).request({ path: '/x' }));
    expect(byName.code).toBe('configuration');
    expect(byName.message).toContain('loopback');
    const rebound = await failure(new ProviderHttpClient({ baseUrl: `http://provider.example:${port}`, clock: systemClock, destinationPolicy: AZURE, resolve: resolvesTo('127.0.0.1') }).request({ path: '/x' }));
    expect(rebound.code).toBe('configuration');
    expect(hits).toBe(0);
    expect(connects).not.toHaveBeenCalled();

    const allowed = await new ProviderHttpClient({ baseUrl: `http://127.0.0.1:${port}`, clock: systemClock, destinationPolicy: LOCAL }).request({ path: '/x' });
    expect(allowed.body).toEqual({ ok: true });
    const listed = await new ProviderHttpClient({ baseUrl: `http://provider.example:${port}`, clock: systemClock, destinationPolicy: { allowPrivate: false, allowedAddresses: ['127.0.0.1'] }, resolve: resolvesTo('127.0.0.1') }).request({ path: '/x' });
    expect(listed.body).toEqual({ ok: true });
    expect(hits).toBe(2);
  });

  test('the OAuth token URL is guarded the same way, naming config.oauth.tokenUrl', async () => {
    const client = { tokenUrl: 'http://login.example/token', clientId: 'id', clientSecret: 'secret' };
    const refused = await failure(new OAuthClient({ destinationPolicy: LOCAL, resolve: resolvesTo('169.254.169.254') }).clientCredentials(client));
    expect(refused.code).toBe('configuration');
    expect(refused.message).toContain('config.oauth.tokenUrl');
    const loopback = await failure(new OAuthClient({ destinationPolicy: AZURE }).clientCredentials({ ...client, tokenUrl: `http://127.0.0.1:${port}/token` }));
    expect(loopback.code).toBe('configuration');
    expect(connects).not.toHaveBeenCalled();
    const granted = await new OAuthClient({ destinationPolicy: LOCAL }).clientCredentials({ ...client, tokenUrl: `http://127.0.0.1:${port}/token` });
    expect(granted.accessToken).toBe('t');
  });

  test('connection create/update refuses a literal refused address with a validation error (HTTP 400)', () => {
    const saved = providerDestinationPolicy();
    try {
      setProviderDestinationPolicy(LOCAL);
      expect(() => sandboxProvider.validateConfig({ baseUrl: 'http://169.254.169.254/metadata' })).toThrow(expect.objectContaining({ code: 'validation', message: expect.stringContaining('config.baseUrl') }));
      expect(() => sandboxProvider.validateConfig({ baseUrl: `http://127.0.0.1:${port}` })).not.toThrow();
      setProviderDestinationPolicy(AZURE);
      expect(() => sandboxProvider.validateConfig({ baseUrl: `http://localhost:${port}` })).toThrow(expect.objectContaining({ code: 'validation' }));
      const connection = { id: 'c1', config: { oauth: { authorizeUrl: 'https://login.example/authorize', tokenUrl: 'http://[::1]/token', clientId: 'id' } } } as unknown as Connection;
      expect(() => readOAuthProviderConfig(connection)).toThrow(expect.objectContaining({ code: 'validation', message: expect.stringContaining('config.oauth.tokenUrl') }));
    } finally {
      setProviderDestinationPolicy(saved);
    }
  });

  test('SYNCBRIDGE_ALLOW_PRIVATE_PROVIDER_HOSTS defaults by platform and can be set either way', () => {
    expect(destinationPolicyFromEnv({}, true).allowPrivate).toBe(true);
    expect(destinationPolicyFromEnv({}, false).allowPrivate).toBe(false);
    expect(destinationPolicyFromEnv({ SYNCBRIDGE_ALLOW_PRIVATE_PROVIDER_HOSTS: 'true' }, false).allowPrivate).toBe(true);
    expect(destinationPolicyFromEnv({ SYNCBRIDGE_ALLOW_PRIVATE_PROVIDER_HOSTS: 'false' }, true).allowPrivate).toBe(false);
    expect(destinationPolicyFromEnv({ SYNCBRIDGE_ALLOWED_PROVIDER_ADDRESSES: '10.0.0.5, fd00::5' }, false).allowedAddresses).toEqual(['10.0.0.5', 'fd00::5']);
    expect(() => destinationPolicyFromEnv({ SYNCBRIDGE_ALLOW_PRIVATE_PROVIDER_HOSTS: 'maybe' }, true)).toThrow(/must be true or false/);
    expect(() => destinationPolicyFromEnv({ SYNCBRIDGE_ALLOWED_PROVIDER_ADDRESSES: 'metadata.internal' }, true)).toThrow(/not an IP address/);
  });
});
