import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { oauthClientSecretName } from '../../../shared/core/credentials/credentialNames';
import { CredentialService, type OAuth2Credentials } from '../../../shared/core/credentials/credentialService';
import { OAuthClient, OAuthGrantError, type OAuthClientIdentity, type TokenResponse } from '../../../shared/core/credentials/oauthClient';
import { ManualClock } from '../../../shared/core/manualClock';
import { createLocalPlatform, type LocalPlatform } from '../../../shared/platform/local/localPlatform';

const TOKEN_URL = 'http://127.0.0.1:9/oauth/token';

/**
 * A token endpoint stub for the refresh grant: it accepts one client secret (`accepted`), answers
 * 5 seconds of the manual clock after it is asked, and can be held until `release()`.
 */
class StubTokenEndpoint extends OAuthClient {
  readonly calls: Array<{ clientSecret?: string; sentAtMs: number }> = [];
  accepted = 'secret-one';
  private gate: Promise<void> = Promise.resolve();
  private reached: () => void = () => undefined;
  private open: () => void = () => undefined;

  constructor(private readonly clock: ManualClock) {
    super();
  }

  /** Holds the next requests at the endpoint; resolves once one has arrived. */
  hold(): Promise<void> {
    this.gate = new Promise<void>((resolve) => (this.open = resolve));
    return new Promise<void>((resolve) => (this.reached = resolve));
  }

  release(): void {
    this.open();
  }

  override async refresh(client: OAuthClientIdentity): Promise<TokenResponse> {
    this.calls.push({ clientSecret: client.clientSecret, sentAtMs: this.clock.now().getTime() });
    this.reached();
    await this.gate;
    this.clock.advance(5_000);
    if (client.clientSecret !== this.accepted) throw new OAuthGrantError('invalid_client', 'The token endpoint refused the client (invalid_client).', 401);
    return { accessToken: `access-${this.calls.length}`, refreshToken: `refresh-${this.calls.length}`, expiresInSeconds: 60 };
  }
}

/** CredentialService.ensureFresh spending a refresh token at a stub token endpoint, on the embedded platform. */
describe('refresh token spend', () => {
  let dataDir: string;
  let platform: LocalPlatform;
  let clock: ManualClock;
  let endpoint: StubTokenEndpoint;
  let service: CredentialService;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-refresh-spend-'));
    clock = new ManualClock(new Date());
    platform = createLocalPlatform({ dataDir, clock, telemetrySink: new PassThrough() });
    endpoint = new StubTokenEndpoint(clock);
    service = new CredentialService(platform, { oauthClient: endpoint, clientSecretGraceMs: 0 });
  });
  afterAll(async () => {
    await platform.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A connection whose access token has expired, with a refresh token and the client secret `secret-one` set on its own. */
  async function expiredConnection(id: string): Promise<void> {
    const now = clock.now().toISOString();
    const connection = await platform.connections.create({
      id, tenantId: 't1', provider: 'sandbox', config: { baseUrl: 'http://127.0.0.1:9' }, credentialRef: `connection-${id}-credentials`,
      entities: [{ name: 'customers', direction: 'pull' }], schedule: { cron: '0 0 * * * *', timeZone: 'UTC', mode: 'full', enabled: false },
      status: 'active', syncState: {}, createdAt: now, updatedAt: now, version: 0,
    });
    await service.store(connection, {
      type: 'oauth2', accessToken: 'access-0', refreshToken: 'refresh-0', expiresAt: new Date(clock.now().getTime() - 1_000).toISOString(),
      tokenUrl: TOKEN_URL, clientId: 'unit-client', grant: 'authorization_code',
    });
    await platform.secrets.set(oauthClientSecretName(id), 'secret-one');
  }

  test('counts the new access token\'s lifetime from when the refresh was sent, not from when the answer came', async () => {
    await expiredConnection('slow-refresh');
    await service.ensureFresh('slow-refresh', { minValidityMs: 1_000 });
    const { sentAtMs } = endpoint.calls.at(-1)!;
    const stored = JSON.parse((await platform.secrets.get('connection-slow-refresh-credentials'))!.value) as OAuth2Credentials;
    expect(stored.accessToken).toBe(`access-${endpoint.calls.length}`);
    expect(Date.parse(stored.expiresAt!)).toBeLessThanOrEqual(sentAtMs + 60_000);
    expect(Date.parse(stored.expiresAt!)).toBeGreaterThanOrEqual(sentAtMs + 55_000);
  });

  test('an invalid_client to a client secret replaced while the refresh was in flight is retried, not parked', async () => {
    await expiredConnection('secret-replaced');
    const atEndpoint = endpoint.hold();
    const refreshing = service.ensureFresh('secret-replaced', { minValidityMs: 1_000 });
    refreshing.catch(() => undefined); // awaited below
    await atEndpoint;
    // What PUT .../oauth-client-secret does: the new secret, which the provider accepts from now on.
    await platform.secrets.set(oauthClientSecretName('secret-replaced'), 'secret-two');
    endpoint.accepted = 'secret-two';
    await service.clientSecretReplaced((await platform.connections.get('secret-replaced'))!);
    endpoint.release();

    await expect(refreshing).rejects.toMatchObject({ code: 'transient' });
    expect((await platform.connections.get('secret-replaced'))?.status).toBe('active');
    const fresh = await service.ensureFresh('secret-replaced', { minValidityMs: 1_000 });
    expect(fresh.credentials.accessToken).toBe(`access-${endpoint.calls.length}`);
    expect(endpoint.calls.slice(-2).map((call) => call.clientSecret)).toEqual(['secret-one', 'secret-two']);
  });

  test('an invalid_client to the client secret still set parks the connection', async () => {
    await expiredConnection('secret-wrong');
    endpoint.accepted = 'a-secret-nobody-set';
    await expect(service.ensureFresh('secret-wrong', { minValidityMs: 1_000 })).rejects.toMatchObject({ code: 'auth_failed' });
    expect((await platform.connections.get('secret-wrong'))?.status).toBe('reauthorization_required');
  });
});
