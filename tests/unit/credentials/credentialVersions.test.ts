import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { SecretClient } from '@azure/keyvault-secrets';
import { CredentialService, type OAuth2Credentials } from '../../../shared/core/credentials/credentialService';
import { credentialStatus } from '../../../shared/core/credentials/credentialStatus';
import type { Connection } from '../../../shared/core/model';
import type { Platform } from '../../../shared/ports/platform';
import { KeyVaultSecretStore } from '../../../shared/platform/azure/keyVaultSecretStore';
import { createLocalPlatform, type LocalPlatform } from '../../../shared/platform/local/localPlatform';
import { startSandbox, type RunningSandbox } from '../../../sandbox/server';
import { startKeyVaultTestServer, type KeyVaultTestServer } from '../../support/keyVaultTestServer';

const CLIENT = { clientId: 'versions-client', clientSecret: 'versions-secret-k3j4h5' };

/**
 * Every refresh stores a new version of the connection's credential, each holding that
 * generation's refresh token and the client secret: only the newest few stay readable. Run on the
 * embedded platform with its SQLite secret store, and with the Key Vault store on the loopback vault.
 */
describe.each(['SqliteSecretStore', 'KeyVaultSecretStore'] as const)('credential versions kept by the CredentialService (%s)', (storeName) => {
  let sandbox: RunningSandbox;
  let local: LocalPlatform;
  let vault: KeyVaultTestServer | undefined;
  let platform: Platform;
  let dataDir: string;
  let tokenUrl: string;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, recordsPerEntity: 1, oauth: { ...CLIENT, accessTokenTtlSeconds: 60 } });
    tokenUrl = `${sandbox.url}/oauth/token`;
    dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-credential-versions-'));
    local = createLocalPlatform({ dataDir, telemetrySink: new PassThrough() });
    platform = local;
    if (storeName === 'KeyVaultSecretStore') {
      vault = await startKeyVaultTestServer();
      const client = new SecretClient(vault.vaultUri, vault.credential, { tlsOptions: { ca: vault.ca }, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 3, retryDelayInMs: 10 } });
      platform = { ...local, secrets: new KeyVaultSecretStore(client) };
    }
  });
  afterAll(async () => {
    await local.close();
    await vault?.close();
    await sandbox.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function connectionWithToken(id: string, service: CredentialService): Promise<Connection> {
    const now = new Date().toISOString();
    const created = await platform.connections.create({
      id, tenantId: 't1', provider: 'sandbox', config: { baseUrl: sandbox.url }, credentialRef: `connection-${id}-credentials`,
      entities: [{ name: 'customers', direction: 'pull' }], schedule: { cron: '0 0 * * * *', timeZone: 'UTC', mode: 'full', enabled: false },
      status: 'active', syncState: {}, createdAt: now, updatedAt: now, version: 0,
    });
    const tokens = await service.oauth.clientCredentials({ tokenUrl, ...CLIENT });
    await service.store(created, { type: 'oauth2', accessToken: tokens.accessToken, expiresAt: new Date(Date.now() + 60_000).toISOString(), tokenUrl, ...CLIENT });
    return created;
  }

  /** Refreshes as after a 401, `times` times: each one stores a new version. */
  async function refresh(service: CredentialService, id: string, times: number): Promise<OAuth2Credentials> {
    let current = (await service.ensureFresh(id, {})).credentials;
    for (let i = 0; i < times; i += 1) current = (await service.ensureFresh(id, { staleAccessToken: current.accessToken })).credentials;
    return current;
  }

  it('keeps the newest 5 versions by default: older ones, with their tokens and client secret, can no longer be read', async () => {
    const service = new CredentialService(platform);
    const connection = await connectionWithToken(`default-${storeName}`, service);
    const name = connection.credentialRef!;
    const first = (await platform.secrets.listVersions(name))[0];
    const latest = await refresh(service, connection.id, 12);
    const live = await platform.secrets.listVersions(name);
    expect(live).toHaveLength(5);
    expect(await platform.secrets.getVersion(name, first)).toBeUndefined();
    const current = JSON.parse((await platform.secrets.get(name, { fresh: true }))!.value) as OAuth2Credentials;
    expect(current.accessToken).toBe(latest.accessToken);
    for (const version of live) expect(await platform.secrets.getVersion(name, version)).toBeDefined();
    expect(await credentialStatus(platform, connection)).toMatchObject({ type: 'oauth2', versions: 5 });
    // The current credential still works for the next refresh.
    expect((await refresh(service, connection.id, 1)).accessToken).not.toBe(latest.accessToken);
  });

  it('keeps as many versions as credentialVersionsKept says', async () => {
    const service = new CredentialService(platform, { credentialVersionsKept: 2 });
    const connection = await connectionWithToken(`two-${storeName}`, service);
    await refresh(service, connection.id, 6);
    expect(await platform.secrets.listVersions(connection.credentialRef!)).toHaveLength(2);
    expect(() => new CredentialService(platform, { credentialVersionsKept: 0 })).toThrow(expect.objectContaining({ code: 'configuration' }));
  });
});
