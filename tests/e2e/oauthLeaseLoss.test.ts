import { PassThrough } from 'node:stream';
import { CredentialService, type OAuth2Credentials } from '../../shared/core/credentials/credentialService';
import { OAuthClient } from '../../shared/core/credentials/oauthClient';
import { createLocalPlatform } from '../../shared/platform/local/localPlatform';
import type { Lease, LeaseStore } from '../../shared/ports/leaseStore';
import type { Platform } from '../../shared/ports/platform';
import type { SecretStore } from '../../shared/ports/secretStore';
import { Harness } from '../support/harness';

const CLIENT = { clientId: 'syncbridge-lease', clientSecret: 'lease-client-secret-3b9e51' };
const LEASE_TTL_MS = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface OAuthStats {
  refreshed: number;
  refreshReuse: number;
  revokedFamilies: number;
}

/**
 * A refresh whose write of the rotated credential outlasts its lease (a throttled vault: the SDK
 * retries 429s as long as Retry-After says), on the real sandbox, whose refresh tokens rotate and
 * which revokes a whole token family when a spent refresh token comes back. Timings are scaled
 * down (200 ms leases instead of 30 s). Faults are injected around the real stores: a slow or
 * failing secret write, lease renewals the lease store does not answer.
 */
describe('OAuth 2 refresh: a lease that would run out while the rotated credential is written', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 5, oauth: { ...CLIENT, accessTokenTtlSeconds: 60 } } });
  });
  afterAll(async () => h.close());

  const oauthStats = () => h.sandbox<OAuthStats>('GET', 'oauth');

  async function connected(id: string): Promise<OAuth2Credentials> {
    const created = await h.api('POST', '/api/connections', {
      id, provider: 'sandbox', entities: ['customers'],
      config: { baseUrl: h.sandboxUrl, oauth: { authorizeUrl: `${h.sandboxUrl}/oauth/authorize`, tokenUrl: `${h.sandboxUrl}/oauth/token`, clientId: CLIENT.clientId, scopes: ['read'] } },
    });
    expect(created.status).toBe(201);
    expect((await h.api('PUT', `/api/connections/${id}/oauth-client-secret`, { clientSecret: CLIENT.clientSecret })).status).toBe(204);
    expect(await connect(id)).toBe(200);
    return storedCredential(id);
  }

  /** The connect flow as a browser runs it (fetch follows the redirects to the sandbox and back). */
  async function connect(id: string): Promise<number> {
    const response = await fetch(`${h.hostUrl}/api/connect/sandbox?connection=${id}`, { headers: { 'x-api-key': h.apiKey, accept: 'application/json' } });
    await response.text();
    return response.status;
  }

  async function storedCredential(id: string): Promise<OAuth2Credentials> {
    return JSON.parse((await h.platform.secrets.get(`connection-${id}-credentials`))!.value) as OAuth2Credentials;
  }

  async function familyAlive(credential: OAuth2Credentials): Promise<number> {
    const response = await fetch(`${h.sandboxUrl}/v1/customers?limit=1`, { headers: { authorization: `Bearer ${credential.accessToken}` } });
    await response.text();
    return response.status;
  }

  /**
   * Instance A: the harness's platform with its first credential write held up (`writeDelayMs`,
   * then written, or thrown when `writeFails`), and, with `renewalsFail`, a lease store that stops
   * answering this instance's renewals once that write has started.
   */
  function slowWriter(options: { writeDelayMs: number; writeFails?: boolean; renewalsFail?: boolean; oauthClient?: OAuthClient; spendLeaseTtlMs?: number }) {
    const real = h.platform;
    let first = true;
    let renewalsDown = false;
    const secrets: SecretStore = Object.assign(Object.create(real.secrets) as SecretStore, {
      set: async (...args: Parameters<SecretStore['set']>) => {
        if (first) {
          first = false;
          renewalsDown = options.renewalsFail === true;
          await sleep(options.writeDelayMs);
          if (options.writeFails) throw Object.assign(new Error('The vault throttled the write.'), { code: 'rate_limited' });
        }
        return real.secrets.set(...args);
      },
    });
    const leases: LeaseStore = {
      acquire: (name, owner, ttlMs) => real.leases.acquire(name, owner, ttlMs),
      renew: async (lease: Lease, ttlMs: number) => {
        if (renewalsDown) throw new Error('The lease store did not answer.');
        return real.leases.renew(lease, ttlMs);
      },
      release: (lease) => real.leases.release(lease),
    };
    const platform = Object.create(real, { secrets: { value: secrets }, leases: { value: leases } }) as Platform;
    return new CredentialService(platform, { leaseTtlMs: LEASE_TTL_MS, storeRetryDelayMs: 10, oauthClient: options.oauthClient, spendLeaseTtlMs: options.spendLeaseTtlMs });
  }

  /** Instance B: its own platform over the same data directory (only the stores are shared). */
  async function withSecondInstance<T>(use: (service: CredentialService) => Promise<T>): Promise<T> {
    const other = createLocalPlatform({ dataDir: h.dataDir, telemetrySink: new PassThrough() });
    try {
      return await use(new CredentialService(other, { leaseTtlMs: LEASE_TTL_MS }));
    } finally {
      await other.close();
    }
  }

  /** Both instances end with A's rotated token: one refresh, no reuse, the family alive, the connection active. */
  async function expectOneSpend(connectionId: string, before: Awaited<ReturnType<typeof oauthStats>>, aResult: { credentials: { accessToken: string } }, b: { credentials: { accessToken: string } }): Promise<void> {
    expect(b.credentials.accessToken).toBe(aResult.credentials.accessToken);
    const after = await oauthStats();
    expect(after.refreshed - before.refreshed).toBe(1);
    expect(after.refreshReuse).toBe(before.refreshReuse);
    expect(after.revokedFamilies).toBe(before.revokedFamilies);
    expect((await h.platform.connections.get(connectionId))!.status).toBe('active');
    expect(await familyAlive(await storedCredential(connectionId))).toBe(200);
  }

  test('a write that outlasts the lease many times over keeps it: the second instance waits for the rotated token and spends nothing', async () => {
    const old = await connected('lease-slow-write');
    const before = await oauthStats();
    // 1.2 s: six lease lifetimes, and past the spend lease's default (4 × 200 ms) too.
    const a = slowWriter({ writeDelayMs: 1200 }).ensureFresh('lease-slow-write', { staleAccessToken: old.accessToken });
    const b = await withSecondInstance(async (service) => {
      await sleep(350); // A has spent the refresh token and is inside its write
      return service.ensureFresh('lease-slow-write', { staleAccessToken: old.accessToken });
    });
    await expectOneSpend('lease-slow-write', before, await a, b);
  });

  test('a holder whose lease renewals fail mid-write: the next holder finds the version being spent and waits instead of spending it again', async () => {
    const old = await connected('lease-lost');
    const before = await oauthStats();
    const a = slowWriter({ writeDelayMs: 600, renewalsFail: true }).ensureFresh('lease-lost', { staleAccessToken: old.accessToken });
    const b = await withSecondInstance(async (service) => {
      await sleep(350); // A's refresh lease (200 ms, no renewal answered) has run out; its write lands at ~600 ms
      return service.ensureFresh('lease-lost', { staleAccessToken: old.accessToken });
    });
    await expectOneSpend('lease-lost', before, await a, b);
  });

  test('a reconnect while a refresh that lost its lease is still writing lands after that write, not under it', async () => {
    const old = await connected('lease-reconnect');
    const a = slowWriter({ writeDelayMs: 600, renewalsFail: true }).ensureFresh('lease-reconnect', { staleAccessToken: old.accessToken });
    await sleep(350);
    expect(await connect('lease-reconnect')).toBe(200);
    const refreshed = await a;
    const newest = await storedCredential('lease-reconnect');
    // The newest version is the reconnect's authorization, not the old one's rotated token.
    expect(newest.accessToken).not.toBe(refreshed.credentials.accessToken);
    expect(newest.refreshToken).not.toBe(refreshed.credentials.refreshToken);
    expect((await h.platform.connections.get('lease-reconnect'))!.status).toBe('active');
    expect(await familyAlive(newest)).toBe(200);
    expect((await oauthStats()).refreshReuse).toBe(0);
  });

  test('a refresh that outlived even its spend lease does not write its result over the reconnect stored meanwhile', async () => {
    const old = await connected('lease-superseded');
    // The first write fails after 700 ms; the retry comes after the reconnect (at ~350 ms) has
    // stored and activated the new authorization, both of A's leases having run out by then.
    const a = slowWriter({ writeDelayMs: 700, writeFails: true, renewalsFail: true, spendLeaseTtlMs: 250 })
      .ensureFresh('lease-superseded', { staleAccessToken: old.accessToken });
    await sleep(350);
    expect(await connect('lease-superseded')).toBe(200);
    const reconnected = await storedCredential('lease-superseded');
    const refreshed = await a;
    // A hands back the newer credential and leaves it the newest version.
    expect(refreshed.credentials.accessToken).toBe(reconnected.accessToken);
    const newest = await storedCredential('lease-superseded');
    expect(newest.accessToken).toBe(reconnected.accessToken);
    expect(await familyAlive(newest)).toBe(200);
    expect(h.telemetryLines.some((line) => line.includes('A newer credential was stored while a token refresh was in flight'))).toBe(true);
  });

  test('a refresh refused with invalid_grant after a reconnect got in does not park the new authorization', async () => {
    const old = await connected('lease-refused');
    await h.sandbox('POST', 'oauth/revoke', { refreshToken: old.refreshToken });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let renewalsDown!: () => void;
    // Held at the token endpoint until the reconnect is done; the lease store stops answering A meanwhile.
    class HeldClient extends OAuthClient {
      override async refresh(...args: Parameters<OAuthClient['refresh']>) {
        renewalsDown();
        await gate;
        return super.refresh(...args);
      }
    }
    const real = h.platform;
    let down = false;
    renewalsDown = () => (down = true);
    const leases: LeaseStore = {
      acquire: (name, owner, ttlMs) => real.leases.acquire(name, owner, ttlMs),
      renew: async (lease, ttlMs) => {
        if (down) throw new Error('The lease store did not answer.');
        return real.leases.renew(lease, ttlMs);
      },
      release: (lease) => real.leases.release(lease),
    };
    const service = new CredentialService(Object.create(real, { leases: { value: leases } }) as Platform, { leaseTtlMs: LEASE_TTL_MS, spendLeaseTtlMs: 250, oauthClient: new HeldClient() });
    const a = service.ensureFresh('lease-refused', { staleAccessToken: old.accessToken });
    a.catch(() => undefined); // awaited below
    await sleep(350);
    expect(await connect('lease-refused')).toBe(200);
    const reconnected = await storedCredential('lease-refused');
    release();
    expect((await a).credentials.accessToken).toBe(reconnected.accessToken);
    expect((await h.platform.connections.get('lease-refused'))!.status).toBe('active');
    expect(await familyAlive(await storedCredential('lease-refused'))).toBe(200);
  });
});
