import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CredentialService, type OAuth2Credentials } from '../../../shared/core/credentials/credentialService';
import type { Connection } from '../../../shared/core/model';
import type { Lease, LeaseStore } from '../../../shared/ports/leaseStore';
import { createLocalPlatform, type LocalPlatform } from '../../../shared/platform/local/localPlatform';
import { s256Challenge } from '../../../shared/core/credentials/pkce';
import { startSandbox, type RunningSandbox } from '../../../sandbox/server';

const CLIENT = { clientId: 'unit-client', clientSecret: 'unit-secret-q9w8e7' };

/** CredentialService on the embedded platform against the sandbox's token endpoint (tokens live 60 s). */
describe('CredentialService refresh path', () => {
  let sandbox: RunningSandbox;
  let platform: LocalPlatform;
  let dataDir: string;
  let tokenUrl: string;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, recordsPerEntity: 1, oauth: { ...CLIENT, accessTokenTtlSeconds: 60 } });
    tokenUrl = `${sandbox.url}/oauth/token`;
    dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-credentials-'));
    platform = createLocalPlatform({ dataDir, telemetrySink: new PassThrough() });
  });
  afterAll(async () => {
    await platform.close();
    await sandbox.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function stats(): Promise<{ refreshed: number; refreshReuse: number; clientCredentials: number }> {
    return (await fetch(`${sandbox.url}/_sandbox/oauth`)).json() as never;
  }

  /** A connection holding a real token pair, obtained with the client-credentials grant or a code. */
  async function connection(id: string, credentials: Partial<OAuth2Credentials> = {}): Promise<Connection> {
    const now = new Date().toISOString();
    const created = await platform.connections.create({
      id, tenantId: 't1', provider: 'sandbox', config: { baseUrl: sandbox.url }, credentialRef: `connection-${id}-credentials`,
      entities: [{ name: 'customers', direction: 'pull' }], schedule: { cron: '0 0 * * * *', timeZone: 'UTC', mode: 'full', enabled: false },
      status: 'active', syncState: {}, createdAt: now, updatedAt: now, version: 0,
    });
    const service = new CredentialService(platform);
    const tokens = await service.oauth.clientCredentials({ tokenUrl, ...CLIENT });
    await service.store(created, {
      type: 'oauth2', accessToken: tokens.accessToken, expiresAt: new Date(Date.now() + 60_000).toISOString(), tokenUrl, ...CLIENT, ...credentials,
    });
    return created;
  }

  test('without a refresh token, a client-credentials credential is renewed with that grant', async () => {
    await connection('cc');
    const service = new CredentialService(platform);
    const before = await stats();
    const fresh = await service.ensureFresh('cc', { minValidityMs: 120_000 }); // 60 s tokens never satisfy 120 s
    expect((await stats()).clientCredentials).toBe(before.clientCredentials + 1);
    expect(await platform.secrets.listVersions('connection-cc-credentials')).toHaveLength(2);
    expect(fresh.credentials.refreshToken).toBeUndefined();
    // A token that meets the need is not refreshed again.
    await service.ensureFresh('cc', { minValidityMs: 1000 });
    expect((await stats()).clientCredentials).toBe(before.clientCredentials + 1);
  });

  test('a caller refused with a 401 that joins a refresh started for a weaker need still gets a new token', async () => {
    await connection('join');
    const service = new CredentialService(platform);
    const stale = (JSON.parse((await platform.secrets.get('connection-join-credentials'))!.value) as OAuth2Credentials).accessToken;
    const [ahead, after401] = await Promise.all([
      service.ensureFresh('join', { minValidityMs: 1000 }), // the stored token is good enough for this one
      service.ensureFresh('join', { staleAccessToken: stale }),
    ]);
    expect(ahead.credentials.accessToken).toBe(stale);
    expect(after401.credentials.accessToken).not.toBe(stale);
  });

  test('a caller that finds the lease taken waits for the holder and takes its token, without calling the provider', async () => {
    const conn = await connection('held');
    const service = new CredentialService(platform, { leaseWaitMs: 5000 });
    const lease = await platform.leases.acquire('token-refresh:held', 'other-instance', 30_000);
    const before = await stats();
    const stale = (JSON.parse((await platform.secrets.get('connection-held-credentials'))!.value) as OAuth2Credentials).accessToken;
    const waiting = service.ensureFresh('held', { staleAccessToken: stale });
    await new Promise((r) => setTimeout(r, 150));
    // The "other instance" finishes its refresh: a new version, then it lets go.
    await service.store(conn, { type: 'oauth2', accessToken: 'from-the-other-instance', expiresAt: new Date(Date.now() + 60_000).toISOString(), tokenUrl, ...CLIENT });
    await platform.leases.release(lease!);
    expect((await waiting).credentials.accessToken).toBe('from-the-other-instance');
    expect(await stats()).toEqual(before);
  });

  test('a lease held past leaseWaitMs is a transient failure, not an endless wait', async () => {
    await connection('stuck');
    await platform.leases.acquire('token-refresh:stuck', 'other-instance', 30_000);
    const service = new CredentialService(platform, { leaseWaitMs: 200 });
    await expect(service.ensureFresh('stuck', { minValidityMs: 120_000 })).rejects.toMatchObject({ code: 'transient', message: expect.stringMatching(/for over 200 ms/) });
  });

  function bind(leases: LeaseStore): LeaseStore {
    return { acquire: leases.acquire.bind(leases), renew: leases.renew.bind(leases), release: leases.release.bind(leases) };
  }

  /** The platform with its secret store wrapped (slow reads, failing writes). */
  function withSecrets(wrap: Partial<LocalPlatform['secrets']>): LocalPlatform {
    const secrets = Object.assign(Object.create(platform.secrets), wrap);
    return Object.create(platform, { secrets: { value: secrets } });
  }

  test('a refresh lease lost during a slow read (its renewals failing) is not spent under: nothing is sent to the provider', async () => {
    // A refresh token the provider does not know: spending it would park the connection (invalid_grant).
    await connection('slow', { refreshToken: 'sbx_rt_never_to_be_sent' });
    // The lease is renewed in the background, so a slow read alone no longer loses it: here the
    // lease store also refuses this instance's renewals while the read is under way.
    let reading = 0;
    const slowReads = Object.create(withSecrets({
      get: async (name, options) => {
        if (!options?.fresh) return platform.secrets.get(name, options);
        reading += 1;
        try {
          await new Promise((r) => setTimeout(r, 300)); // a throttled vault, longer than the lease
          return await platform.secrets.get(name, options);
        } finally {
          reading -= 1;
        }
      },
    }), { leases: { value: { ...bind(platform.leases), renew: async (lease: Lease, ttlMs: number) => {
      if (reading > 0) throw new Error('The lease store did not answer.');
      return platform.leases.renew(lease, ttlMs);
    } } } }) as LocalPlatform;
    const service = new CredentialService(slowReads, { leaseTtlMs: 150, leaseWaitMs: 0 });
    let otherInstance: unknown;
    setTimeout(() => void platform.leases.acquire('token-refresh:slow', 'other-instance', 30_000).then((lease) => (otherInstance = lease)), 200);
    await expect(service.ensureFresh('slow', { minValidityMs: 120_000 })).rejects.toMatchObject({ code: 'transient', message: expect.stringMatching(/ran out before spending the refresh token/) });
    expect(otherInstance).toBeDefined(); // the lease expired while the read went on, and was taken
    expect((await platform.connections.get('slow'))!.status).toBe('active');
  });

  test('a rotated credential whose write fails is written again, not thrown away', async () => {
    await connection('flaky');
    let failures = 2;
    const flakyWrites = withSecrets({
      set: async (name, value, options) => {
        if (failures > 0) {
          failures -= 1;
          throw Object.assign(new Error('The vault throttled the write.'), { code: 'rate_limited' });
        }
        return platform.secrets.set(name, value, options);
      },
    });
    const before = await stats();
    const service = new CredentialService(flakyWrites, { storeRetryDelayMs: 10 });
    const fresh = await service.ensureFresh('flaky', { minValidityMs: 120_000 });
    expect((await stats()).clientCredentials).toBe(before.clientCredentials + 1); // one grant, stored on the third write
    const stored = JSON.parse((await platform.secrets.get('connection-flaky-credentials'))!.value) as OAuth2Credentials;
    expect(stored.accessToken).toBe(fresh.credentials.accessToken);
    expect(failures).toBe(0);
  });

  /** A real code grant at the sandbox: a user's token pair whose refresh token rotates on every use. */
  async function userTokens(): Promise<{ accessToken: string; refreshToken: string }> {
    const verifier = 'v'.repeat(43);
    const authorize = new URL(`${sandbox.url}/oauth/authorize`);
    authorize.search = new URLSearchParams({ response_type: 'code', client_id: CLIENT.clientId, redirect_uri: 'http://127.0.0.1:1/cb', state: 's', code_challenge: s256Challenge(verifier), code_challenge_method: 'S256' }).toString();
    const code = new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location')!).searchParams.get('code')!;
    const tokens = await new CredentialService(platform).oauth.exchangeCode({ tokenUrl, ...CLIENT }, { code, redirectUri: 'http://127.0.0.1:1/cb', codeVerifier: verifier });
    return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken! };
  }

  /**
   * A loopback token endpoint in front of the sandbox's: forwards every request and its answer,
   * recording the refresh token each request sent, and while `strip` names fields, removes them
   * from the sandbox's 200 answers (the sandbox has rotated all the same).
   */
  async function tokenProxy(): Promise<{ url: string; sent: string[]; strip: string[]; override: Record<string, unknown>; close(): Promise<void> }> {
    const state = { sent: [] as string[], strip: [] as string[], override: {} as Record<string, unknown> };
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', async () => {
        state.sent.push(new URLSearchParams(body).get('refresh_token') ?? '');
        const answer = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': req.headers['content-type']!, authorization: req.headers.authorization ?? '' }, body });
        const parsed = (await answer.json()) as Record<string, unknown>;
        if (answer.ok) {
          for (const field of state.strip) delete parsed[field];
          Object.assign(parsed, state.override);
        }
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(parsed));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return Object.assign(state, { url: `http://127.0.0.1:${port}/oauth/token`, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) });
  }

  test.each([
    ['without an access_token', { strip: ['access_token'], override: {} }, 'transient'],
    ['with a token_type other than Bearer', { strip: [], override: { token_type: 'mac' } }, 'provider_rejected'],
  ])('a 200 %s that carries a rotated refresh token: the new one is stored, and the next refresh spends it, with no reuse', async (_label, answer, code) => {
    const id = `unusable-${code}`;
    const proxy = await tokenProxy();
    try {
      const first = await userTokens();
      await connection(id, { accessToken: first.accessToken, refreshToken: first.refreshToken, tokenUrl: proxy.url, grant: 'authorization_code' });
      const service = new CredentialService(platform);
      const before = await stats();
      proxy.strip = answer.strip;
      proxy.override = answer.override;
      const error = await service.ensureFresh(id, { minValidityMs: 120_000 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code, message: expect.stringMatching(/new refresh token: it was stored/) });
      expect((await stats()).refreshed).toBe(before.refreshed + 1); // the sandbox did rotate
      const kept = JSON.parse((await platform.secrets.get(`connection-${id}-credentials`))!.value) as OAuth2Credentials;
      expect(kept.refreshToken).not.toBe(first.refreshToken);
      expect(Date.parse(kept.expiresAt!)).toBeLessThanOrEqual(Date.now()); // the access token counts as expired: the next use refreshes
      expect((await platform.connections.get(id))!.status).toBe('active');

      proxy.strip = [];
      proxy.override = {};
      const fresh = await service.ensureFresh(id, { minValidityMs: 1000 });
      expect(proxy.sent).toEqual([first.refreshToken, kept.refreshToken]); // the retry sent the rotated token, not the spent one
      expect(fresh.credentials.accessToken).not.toBe(first.accessToken);
      const after = await stats();
      expect(after.refreshReuse).toBe(before.refreshReuse);
      expect(after.refreshed).toBe(before.refreshed + 2);
      expect((await platform.connections.get(id))!.status).toBe('active');
    } finally {
      await proxy.close();
    }
  });

  test('a token endpoint that is down fails transiently and leaves the connection active', async () => {
    const conn = await connection('down', { tokenUrl: 'http://127.0.0.1:1/oauth/token' });
    const service = new CredentialService(platform);
    await expect(service.ensureFresh('down', { minValidityMs: 120_000 })).rejects.toMatchObject({ code: 'transient' });
    expect((await platform.connections.get(conn.id))!.status).toBe('active');
    expect(await platform.leases.acquire('token-refresh:down', 'probe', 1000)).toBeDefined(); // the lease was released
  });

  test('invalid_grant parks the connection once; later calls refuse without asking the provider', async () => {
    await connection('dead', { refreshToken: 'sbx_rt_not_a_real_token' });
    const service = new CredentialService(platform);
    await expect(service.ensureFresh('dead', { minValidityMs: 120_000 })).rejects.toMatchObject({ code: 'auth_failed', message: expect.stringMatching(/needs reauthorization/) });
    expect((await platform.connections.get('dead'))!.status).toBe('reauthorization_required');
    const errors = ((await stats()) as unknown as { errors: Record<string, number> }).errors.invalid_grant;
    await expect(service.ensureFresh('dead', { minValidityMs: 120_000 })).rejects.toMatchObject({ code: 'auth_failed' });
    expect(((await stats()) as unknown as { errors: Record<string, number> }).errors.invalid_grant).toBe(errors);
  });

  test('a credential that is not JSON is a configuration error that does not echo the value', async () => {
    const conn = await connection('garbled');
    await platform.secrets.set('connection-garbled-credentials', 'garbled-secret-text');
    const error = await new CredentialService(platform).forAdapter(conn).catch((e) => e);
    expect(error).toMatchObject({ code: 'configuration' });
    expect(error.message).not.toContain('garbled-secret-text');
  });

  test('bad options fail at construction, naming the option', () => {
    expect(() => new CredentialService(platform, { leaseTtlMs: -1 })).toThrow(/leaseTtlMs/);
    expect(() => new CredentialService(platform, { refreshMarginMs: Number.NaN })).toThrow(/refreshMarginMs/);
  });
});
