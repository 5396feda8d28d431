import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

  it('fails the start on a malformed push retry setting, with its name, before opening the platform', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-services-'));
    try {
      process.env.SYNCBRIDGE_PLATFORM = 'local';
      process.env.SYNCBRIDGE_DATA_DIR = join(dataDir, 'data');
      process.env.SYNCBRIDGE_PUSH_RETRY_MULTIPLIER = '0.5';
      let fresh!: typeof import('../../../functions/services');
      jest.isolateModules(() => {
        fresh = jest.requireActual('../../../functions/services');
      });
      await expect(fresh.getServices()).rejects.toThrow(/^SYNCBRIDGE_PUSH_RETRY_MULTIPLIER must be a number of at least 1/);
      // Nothing was opened (the local platform creates its folder and database when it opens).
      expect(existsSync(join(dataDir, 'data'))).toBe(false);
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('extends the services with the module SYNCBRIDGE_EXTENSIONS names, and fails the start on one that cannot load', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-services-'));
    try {
      const extension = join(dataDir, 'extensions.js');
      writeFileSync(extension, "exports.extend = (services) => { services.customRules.register('from-setting', () => 'local'); };");
      process.env.SYNCBRIDGE_PLATFORM = 'local';
      process.env.SYNCBRIDGE_DATA_DIR = dataDir;
      process.env.SYNCBRIDGE_EXTENSIONS = join(dataDir, 'missing.js');
      let fresh!: typeof import('../../../functions/services');
      jest.isolateModules(() => {
        fresh = jest.requireActual('../../../functions/services');
      });
      await expect(fresh.getServices()).rejects.toThrow(/SYNCBRIDGE_EXTENSIONS names .*missing\.js, which does not exist/);
      process.env.SYNCBRIDGE_EXTENSIONS = extension;
      const services = await fresh.getServices();
      expect(services.customRules.has('from-setting')).toBe(true);
      await services.platform.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
