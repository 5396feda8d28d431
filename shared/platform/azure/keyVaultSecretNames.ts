import { createHash } from 'node:crypto';

/**
 * SecretStore names (any string of 1-200 characters) as Key Vault secret names (1-127 of
 * [0-9a-zA-Z-], compared case-insensitively), reversibly and without collisions:
 * - lowercase ASCII letters and digits stay as they are;
 * - every other UTF-8 byte, '-' and uppercase letters included, becomes '-' and two lowercase hex
 *   digits ('Ab-1' → '-41b-2d1'), so the vault's case folding never merges two names;
 * - an encoding longer than 127 characters becomes 'h--' and the SHA-256 of the name (67
 *   characters). '--' never occurs in the first form (an escape is '-' then a hex digit), so the
 *   two forms cannot meet; the store keeps the original name in a tag and checks it on every read.
 */
export const KEY_VAULT_NAME_LIMIT = 127;
const HASHED_PREFIX = 'h--';

export function toKeyVaultName(name: string): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const plain = (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39);
    out += plain ? String.fromCharCode(byte) : `-${byte.toString(16).padStart(2, '0')}`;
  }
  if (out.length <= KEY_VAULT_NAME_LIMIT) return out;
  return `${HASHED_PREFIX}${createHash('sha256').update(name, 'utf8').digest('hex')}`;
}

/** The store name of a vault name made by toKeyVaultName; undefined for a hashed one (read its tag). */
export function fromKeyVaultName(vaultName: string): string | undefined {
  if (vaultName.startsWith(HASHED_PREFIX)) return undefined;
  const bytes: number[] = [];
  const lower = vaultName.toLowerCase();
  for (let i = 0; i < lower.length; i += 1) {
    if (lower[i] === '-') {
      bytes.push(parseInt(lower.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(lower.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
