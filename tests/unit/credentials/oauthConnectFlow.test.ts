import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ConnectFlow } from '../../../shared/core/credentials/connectFlow';
import { oauthClientSecretName } from '../../../shared/core/credentials/credentialNames';
import { CredentialService, type OAuth2Credentials } from '../../../shared/core/credentials/credentialService';
import { OAuthClient, type OAuthClientIdentity, type TokenResponse } from '../../../shared/core/credentials/oauthClient';
import { ManualClock } from '../../../shared/core/manualClock';
import type { Platform } from '../../../shared/ports/platform';
import type { SecretStore, SecretValue } from '../../../shared/ports/secretStore';
import { createLocalPlatform, type LocalPlatform } from '../../../shared/platform/local/localPlatform';

/**
 * A secret store in front of another that keeps serving the version it read first until a caller
 * asks for a fresh read: what the port allows, and what the Key Vault store's 60-second cache does
 * when another instance replaced the secret.
 */
function cachingSecretStore(inner: SecretStore): SecretStore {
  const cached = new Map<string, SecretValue>();
  return {
    set: (name, value, options) => inner.set(name, value, options),
    async get(name, options) {
      if (!options?.fresh && cached.has(name)) return cached.get(name);
      const value = await inner.get(name, options);
      if (value) cached.set(name, value);
      return value;
    },
    getVersion: (name, version) => inner.getVersion(name, version),
    listVersions: (name) => inner.listVersions(name),
    retireVersions: (name, keep) => inner.retireVersions(name, keep),
    delete: (name) => inner.delete(name),
  };
}

/** A token endpoint that issues 60-second tokens 5 seconds (of the manual clock) after it is asked. */
class SlowTokenEndpoint extends OAuthClient {
  readonly calls: Array<{ clientSecret?: string; sentAtMs: number }> = [];

  constructor(private readonly clock: ManualClock) {
    super();
  }

  override async exchangeCode(client: OAuthClientIdentity): Promise<TokenResponse> {
    this.calls.push({ clientSecret: client.clientSecret, sentAtMs: this.clock.now().getTime() });
    this.clock.advance(5_000);
    return { accessToken: `access-${this.calls.length}`, refreshToken: `refresh-${this.calls.length}`, expiresInSeconds: 60 };
  }
}

/** The connect callback (ConnectFlow.complete) against a token endpoint stub, on the embedded platform. */
describe('connect flow code exchange', () => {
  let dataDir: string;
  let local: LocalPlatform;
  let platform: Platform;
  let clock: ManualClock;
  let endpoint: SlowTokenEndpoint;
  let flow: ConnectFlow;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-connect-flow-'));
    clock = new ManualClock(new Date());
    local = createLocalPlatform({ dataDir, clock, telemetrySink: new PassThrough() });
    platform = { ...local, secrets: cachingSecretStore(local.secrets) };
    endpoint = new SlowTokenEndpoint(clock);
    flow = new ConnectFlow(platform, new CredentialService(platform, { oauthClient: endpoint }));
  });
  afterAll(async () => {
    await local.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function oauthConnection(id: string): Promise<void> {
    const now = clock.now().toISOString();
    await platform.connections.create({
      id, tenantId: 't1', provider: 'sandbox', entities: [{ name: 'customers', direction: 'pull' }],
      config: { baseUrl: 'http://127.0.0.1:9', oauth: { authorizeUrl: 'http://127.0.0.1:9/oauth/authorize', tokenUrl: 'http://127.0.0.1:9/oauth/token', clientId: 'unit-client', scopes: ['read'] } },
      schedule: { cron: '0 0 * * * *', timeZone: 'UTC', mode: 'full', enabled: false },
      status: 'active', syncState: {}, createdAt: now, updatedAt: now, version: 0,
    });
  }

  /** Begins the flow and completes it with a code, as the provider's redirect would. */
  async function connect(id: string) {
    const authorizeUrl = new URL(await flow.begin({ tenantId: 't1', connectionId: id, provider: 'sandbox', defaultRedirectUri: 'http://127.0.0.1:9/api/connect/callback' }));
    return flow.complete({ code: `code-for-${id}`, state: authorizeUrl.searchParams.get('state')! });
  }

  test('sends the client secret as it is now, not the copy a cache still holds', async () => {
    await oauthConnection('rotated');
    await platform.secrets.set(oauthClientSecretName('rotated'), 'secret-before-rotation');
    expect((await platform.secrets.get(oauthClientSecretName('rotated')))?.value).toBe('secret-before-rotation'); // this instance's cache
    await local.secrets.set(oauthClientSecretName('rotated'), 'secret-after-rotation'); // another instance rotates it
    expect((await platform.secrets.get(oauthClientSecretName('rotated')))?.value).toBe('secret-before-rotation');

    await connect('rotated');
    expect(endpoint.calls.at(-1)?.clientSecret).toBe('secret-after-rotation');
  });

  test('counts the access token\'s lifetime from when the code was sent, not from when the answer came', async () => {
    await oauthConnection('slow-answer');
    const connected = await connect('slow-answer');
    expect(connected.status).toBe('active');
    const { sentAtMs } = endpoint.calls.at(-1)!;
    const stored = JSON.parse((await local.secrets.get('connection-slow-answer-credentials'))!.value) as OAuth2Credentials;
    expect(Date.parse(stored.expiresAt!)).toBeLessThanOrEqual(sentAtMs + 60_000);
    expect(Date.parse(stored.expiresAt!)).toBeGreaterThanOrEqual(sentAtMs + 55_000);
  });
});
