import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getServices } from '../../../functions/services';

describe('getServices', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('does not keep a failed start: the next invocation builds the services again', async () => {
    process.env.SYNCBRIDGE_PLATFORM = 'nowhere';
    await expect(getServices()).rejects.toThrow('SYNCBRIDGE_PLATFORM must be "local" or "azure"');
    const dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-services-'));
    try {
      process.env.SYNCBRIDGE_PLATFORM = 'local';
      process.env.SYNCBRIDGE_DATA_DIR = dataDir;
      const services = await getServices();
      expect(services.platform).toBeDefined();
      expect(await getServices()).toBe(services); // and a started one is kept
      await services.platform.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
