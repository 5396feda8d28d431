import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SyncBridgeError } from '../../core/errors';

export interface ResolveSecretKeyOptions {
  /** Folder that holds (or will hold) `secret.key`. */
  dataDir: string;
  /** SYNCBRIDGE_SECRET_KEY when set: 64 hex characters, or base64 of exactly 32 bytes. */
  keyFromEnv?: string;
}

const KEY_BYTES = 32;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$|^[A-Za-z0-9_-]{43}$/;

/**
 * The 32-byte key that encrypts the local secret store.
 *
 * An explicit key (from SYNCBRIDGE_SECRET_KEY) wins, so that CI and containers can inject one.
 * Otherwise the key lives in `<dataDir>/secret.key` as 64 hex characters, created on first use
 * with mode 0600 beside the database it protects: copying the database alone reveals nothing.
 */
export function resolveSecretKey(options: ResolveSecretKeyOptions): Buffer {
  if (options.keyFromEnv !== undefined && options.keyFromEnv !== '') return parseKey(options.keyFromEnv.trim(), 'SYNCBRIDGE_SECRET_KEY');
  const path = join(options.dataDir, 'secret.key');
  mkdirSync(options.dataDir, { recursive: true });
  try {
    // 'wx' fails when the file exists, so two processes starting at once cannot both write a key.
    writeFileSync(path, `${randomBytes(KEY_BYTES).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
    chmodSync(path, 0o600); // the umask may have widened the mode given above
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new SyncBridgeError('configuration', `Cannot create the secret key file ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
  return parseKey(readFileSync(path, 'utf8').trim(), `the secret key file ${path}`);
}

function parseKey(text: string, source: string): Buffer {
  if (HEX_KEY.test(text)) return Buffer.from(text, 'hex');
  if (BASE64_KEY.test(text)) {
    const key = Buffer.from(text, text.includes('+') || text.includes('/') || text.endsWith('=') ? 'base64' : 'base64url');
    if (key.length === KEY_BYTES) return key;
  }
  // The message never repeats the value: it is (or was meant to be) a secret.
  throw new SyncBridgeError('configuration', `${source} must hold 64 hex characters or the base64 of exactly 32 bytes (a 256-bit key).`);
}
