import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createServices } from '../../../shared/composition';
import { createLocalPlatform, type LocalPlatform } from '../../../shared/platform/local/localPlatform';

/**
 * Two creates of one connection id at once (two tenants, or one client retrying): one wins, the
 * other is a conflict, and the credential stored is the winner's alone — never the loser's secret
 * as the newest version of the winner's credential.
 */
describe('ConnectionService.create under concurrency', () => {
  let dataDir: string;
  let platform: LocalPlatform;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-connection-create-'));
    platform = createLocalPlatform({ dataDir, telemetrySink: new PassThrough().resume() });
  });
  afterEach(async () => {
    await platform.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const request = (tenantId: string, apiKey: string) => ({
    tenantId, id: 'contested', provider: 'sandbox', config: { baseUrl: 'http://127.0.0.1:9' }, credentials: { type: 'apiKey' as const, apiKey },
  });

  it('stores only the winner\'s credential; the loser gets a conflict and writes no secret', async () => {
    const service = createServices(platform).connections;
    // Started in the same tick, the two interleave at every await of the store calls.
    const [a, b] = await Promise.allSettled([service.create(request('tenant-a', 'key-of-a')), service.create(request('tenant-b', 'key-of-b'))]);
    const won = [a, b].filter((r) => r.status === 'fulfilled');
    const lost = [a, b].filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0].reason).toMatchObject({ code: 'conflict' });

    const connection = (await platform.connections.get('contested'))!;
    const stored = JSON.parse((await platform.secrets.get(connection.credentialRef!))!.value);
    expect(stored.apiKey).toBe(connection.tenantId === 'tenant-a' ? 'key-of-a' : 'key-of-b');
    expect(await platform.secrets.listVersions(connection.credentialRef!)).toHaveLength(1);
  });

  it('a create after the first one finished is a conflict too, and the lease is free again', async () => {
    const service = createServices(platform).connections;
    await service.create(request('tenant-a', 'key-of-a'));
    await expect(service.create(request('tenant-b', 'key-of-b'))).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('exists already') });
    expect(await platform.secrets.listVersions('connection-contested-credentials')).toHaveLength(1);
  });
});
