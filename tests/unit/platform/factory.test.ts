import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncBridgeError } from '../../../shared/core/errors';
import { providerDestinationPolicy, setProviderDestinationPolicy } from '../../../shared/http/destinationPolicy';
import { createPlatformFromEnv } from '../../../shared/platform/factory';

describe('platform factory', () => {
  it('builds the Azure platform for SYNCBRIDGE_PLATFORM=azure, and says which setting is missing', async () => {
    const failure = await createPlatformFromEnv({ SYNCBRIDGE_PLATFORM: 'azure' }).then(() => undefined, (e: unknown) => e);
    expect(isSyncBridgeError(failure, 'configuration')).toBe(true);
    expect((failure as Error).message).toMatch(/COSMOS__accountEndpoint is not set/);
  });

  it('refuses an unknown platform name', async () => {
    await expect(createPlatformFromEnv({ SYNCBRIDGE_PLATFORM: 'gcp' })).rejects.toThrow(/must be "local" or "azure"/);
  });

  it('chooses the provider destination policy: private addresses allowed locally, refused on Azure, unless the setting says otherwise', async () => {
    const saved = providerDestinationPolicy();
    const dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-factory-'));
    try {
      setProviderDestinationPolicy({ allowPrivate: false });
      const local = await createPlatformFromEnv({ SYNCBRIDGE_PLATFORM: 'local', SYNCBRIDGE_DATA_DIR: dataDir });
      expect(providerDestinationPolicy().allowPrivate).toBe(true);
      await local.close();
      await createPlatformFromEnv({ SYNCBRIDGE_PLATFORM: 'azure' }).catch(() => undefined); // fails later, on its Cosmos setting
      expect(providerDestinationPolicy().allowPrivate).toBe(false);
      await createPlatformFromEnv({ SYNCBRIDGE_PLATFORM: 'azure', SYNCBRIDGE_ALLOW_PRIVATE_PROVIDER_HOSTS: 'true', SYNCBRIDGE_ALLOWED_PROVIDER_ADDRESSES: '10.1.2.3' }).catch(() => undefined);
      expect(providerDestinationPolicy()).toEqual({ allowPrivate: true, allowedAddresses: ['10.1.2.3'] });
    } finally {
      setProviderDestinationPolicy(saved);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
