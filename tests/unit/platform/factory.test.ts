import { isSyncBridgeError } from '../../../shared/core/errors';
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
});
