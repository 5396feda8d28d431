import { fromKeyVaultName, toKeyVaultName } from '../../../shared/platform/azure/keyVaultSecretNames';

describe('Key Vault secret names', () => {
  const valid = /^[0-9a-zA-Z-]{1,127}$/;

  it.each([
    'connection-shop-credentials',
    'Connection-Shop',
    'a/b:c?d#e',
    'żółw ✓ 🐢',
    '--',
    'h--abc',
    'x'.repeat(127),
  ])('maps %j to a valid vault name and back', (name) => {
    const vaultName = toKeyVaultName(name);
    expect(vaultName).toMatch(valid);
    expect(fromKeyVaultName(vaultName)).toBe(name);
    // The vault compares names case-insensitively: the mapping must survive folding.
    expect(fromKeyVaultName(vaultName.toUpperCase())).toBe(name);
  });

  it('keeps names that differ only in case apart', () => {
    expect(toKeyVaultName('Shop').toLowerCase()).not.toBe(toKeyVaultName('shop').toLowerCase());
  });

  it('hashes names whose encoding is too long, into a form no short name can take', () => {
    const long = `connection-${'Z'.repeat(150)}`;
    const vaultName = toKeyVaultName(long);
    expect(vaultName).toMatch(/^h--[0-9a-f]{64}$/);
    expect(fromKeyVaultName(vaultName)).toBeUndefined();
    expect(toKeyVaultName(`${long}!`)).not.toBe(vaultName);
    // No encoded short name contains '--': '-' is always followed by a hex digit.
    for (const name of ['h--x', '-', '--', 'a--b', '\u00ff-']) expect(toKeyVaultName(name)).not.toContain('--');
  });

  it('never produces two equal vault names for different short names (exhaustive over a small alphabet)', () => {
    const alphabet = ['a', 'A', '-', '1', 'é', ' '];
    const seen = new Map<string, string>();
    const names: string[] = [''];
    for (let length = 1; length <= 3; length += 1) for (const prefix of names.filter((n) => n.length === length - 1)) for (const c of alphabet) names.push(prefix + c);
    for (const name of names.filter(Boolean)) {
      const key = toKeyVaultName(name).toLowerCase();
      expect(seen.get(key) ?? name).toBe(name);
      seen.set(key, name);
    }
    expect(seen.size).toBe(names.length - 1);
  });
});
