import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { Services } from '../../shared/composition';
import { CustomMergeRules } from '../../shared/core/merge';
import { appRoot, applyExtensions, resolveExtensionsPath } from '../../shared/extensions';

/** The part of the services an extension here touches. */
function services(): Services {
  return { customRules: new CustomMergeRules() } as unknown as Services;
}

describe('applyExtensions (SYNCBRIDGE_EXTENSIONS)', () => {
  let dir: string;
  const module = (name: string, source: string) => {
    const path = join(dir, name);
    writeFileSync(path, source);
    return path;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncbridge-extensions-unit-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('does nothing without a setting', async () => {
    const s = services();
    expect(await applyExtensions(s, undefined)).toBeUndefined();
    expect(await applyExtensions(s, '  ')).toBeUndefined();
  });

  it('runs the module’s extend export, a default export, or the module itself when it is the function', async () => {
    const named = module('named.js', "exports.extend = (s) => { s.customRules.register('named', () => 'local'); };");
    const asDefault = module('default.js', "exports.default = async (s) => { s.customRules.register('default', () => 'remote'); };");
    const itself = module('itself.js', "module.exports = (s) => { s.customRules.register('itself', () => 'manual'); };");
    const s = services();
    for (const path of [named, asDefault, itself]) expect(await applyExtensions(s, path)).toBe(path);
    expect(['named', 'default', 'itself'].map((name) => s.customRules.has(name))).toEqual([true, true, true]);
  });

  it('resolves a relative path against the function app’s root (the folder of host.json), with Node’s resolution', async () => {
    expect(appRoot()).toBe(resolve(__dirname, '../..'));
    const path = module('relative.js', "exports.extend = (s) => { s.customRules.register('relative', () => 'local'); };");
    const fromRoot = relative(appRoot(), path);
    expect(resolveExtensionsPath(` ${fromRoot} `)).toBe(path);
    const s = services();
    // Without its extension, as `require` finds it.
    expect(await applyExtensions(s, fromRoot.replace(/\.js$/, ''))).toBe(path);
    expect(s.customRules.has('relative')).toBe(true);
  });

  it('calls extend on its module, so that it can use its siblings through `this`', async () => {
    const path = module('method.js', "module.exports = { name: 'with-this', extend(s) { s.customRules.register(this.name, () => 'local'); } };");
    const s = services();
    await applyExtensions(s, path);
    expect(s.customRules.has('with-this')).toBe(true);
  });

  it('refuses, naming the setting and the file, a module that is missing, broken, has no extend or throws from it', async () => {
    const s = services();
    await expect(applyExtensions(s, join(dir, 'nope.js'))).rejects.toMatchObject({ code: 'configuration', message: expect.stringMatching(/^SYNCBRIDGE_EXTENSIONS names .*nope\.js, which does not exist\.$/) });
    await expect(applyExtensions(s, module('broken.js', 'exports.extend = ('))).rejects.toThrow(/SYNCBRIDGE_EXTENSIONS names .*broken\.js, which could not be loaded/);
    await expect(applyExtensions(s, module('empty.js', 'exports.other = 1;'))).rejects.toThrow(/which exports no `extend\(services\)` function/);
    await expect(applyExtensions(s, module('throws.js', "exports.extend = () => { throw new Error('no rules today'); };"))).rejects.toThrow(/failed while extending the services \(no rules today\)/);
  });
});
