import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncBridgeError } from '../../shared/core/errors';
import { openDatabase, type SqliteDatabase } from '../../shared/platform/local/database';
import { resolveSecretKey } from '../../shared/platform/local/secretKey';
import { SqliteSecretStore } from '../../shared/platform/local/sqliteSecretStore';
import { expectSyncBridgeError } from './fixtures';

/** Everything SQLite keeps on disk for the database: the main file, the WAL and its index. */
function allDatabaseBytes(dir: string): Buffer {
  return Buffer.concat(readdirSync(dir).filter((f) => f.startsWith('syncbridge.db')).map((f) => readFileSync(join(dir, f))));
}

describe('SqliteSecretStore at rest', () => {
  let dir: string;
  let db: SqliteDatabase;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncbridge-secrets-'));
    db = openDatabase(join(dir, 'syncbridge.db'));
  });
  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never writes a stored value to disk in plaintext, neither in the WAL nor after a checkpoint', async () => {
    const store = new SqliteSecretStore(db, randomBytes(32));
    const value = 'refresh-token-PLAINTEXT-canary-5f1c2a';
    await store.set('connection-c1-credentials', value);
    await store.set('connection-c1-credentials', `${value}-v2`);
    const needle = Buffer.from('PLAINTEXT-canary');
    expect(allDatabaseBytes(dir).includes(Buffer.from('connection-c1-credentials'))).toBe(true); // the scan does see the rows
    expect(allDatabaseBytes(dir).includes(needle)).toBe(false);
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(allDatabaseBytes(dir).includes(needle)).toBe(false);
    expect(allDatabaseBytes(dir).includes(Buffer.from(value, 'utf16le'))).toBe(false);
  });

  it('refuses to read with a different key: a SyncBridgeError, not garbage', async () => {
    await new SqliteSecretStore(db, randomBytes(32)).set('api-key', 'the real value');
    const wrongKey = new SqliteSecretStore(db, randomBytes(32));
    const error = await expectSyncBridgeError(wrongKey.get('api-key'), 'configuration');
    expect(error.message).toContain('api-key');
    expect(error.message).not.toContain('the real value');
  });

  it('reads its secrets back after the database is closed and reopened with the same key', async () => {
    const key = randomBytes(32);
    const stored = await new SqliteSecretStore(db, key).set('api-key', 'survives restarts');
    db.close();
    db = openDatabase(join(dir, 'syncbridge.db'));
    expect(await new SqliteSecretStore(db, key).get('api-key')).toMatchObject({ value: 'survives restarts', version: stored.version });
  });

  it('binds each value to its name: a ciphertext moved onto another secret does not decrypt', async () => {
    const store = new SqliteSecretStore(db, randomBytes(32));
    await store.set('victim', 'victim value');
    await store.set('attacker', 'attacker value');
    db.prepare(`UPDATE secret_versions SET iv = v.iv, auth_tag = v.auth_tag, ciphertext = v.ciphertext
      FROM (SELECT iv, auth_tag, ciphertext FROM secret_versions WHERE name = 'victim') AS v WHERE name = 'attacker'`).run();
    await expectSyncBridgeError(store.get('attacker'), 'configuration');
  });

  it('detects a flipped bit in a stored ciphertext', async () => {
    const store = new SqliteSecretStore(db, randomBytes(32));
    await store.set('api-key', 'some value');
    const row = db.prepare(`SELECT ciphertext FROM secret_versions WHERE name = 'api-key'`).get() as { ciphertext: Buffer };
    row.ciphertext[0] ^= 1;
    db.prepare(`UPDATE secret_versions SET ciphertext = ? WHERE name = 'api-key'`).run(row.ciphertext);
    await expectSyncBridgeError(store.get('api-key'), 'configuration');
  });

  it('uses a fresh IV for every version, so equal values give different ciphertexts', async () => {
    const store = new SqliteSecretStore(db, randomBytes(32));
    await store.set('a', 'same value');
    await store.set('a', 'same value');
    const rows = db.prepare(`SELECT iv, ciphertext FROM secret_versions WHERE name = 'a'`).all() as Array<{ iv: Buffer; ciphertext: Buffer }>;
    expect(rows).toHaveLength(2);
    expect(rows[0].iv.length).toBe(12);
    expect(rows[0].iv.equals(rows[1].iv)).toBe(false);
    expect(rows[0].ciphertext.equals(rows[1].ciphertext)).toBe(false);
  });

  it('lists versions newest first', async () => {
    const store = new SqliteSecretStore(db, randomBytes(32));
    const versions = [await store.set('a', '1'), await store.set('a', '2'), await store.set('a', '3')].map((v) => v.version);
    expect(await store.listVersions('a')).toEqual([...versions].reverse());
  });

  it('refuses a key that is not 32 bytes at construction', () => {
    for (const key of [randomBytes(16), randomBytes(33), Buffer.alloc(0)]) {
      expect(() => new SqliteSecretStore(db, key)).toThrow(expect.objectContaining({ code: 'configuration' }));
    }
  });
});

describe('resolveSecretKey', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncbridge-key-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts 64 hex characters from the environment', () => {
    const key = randomBytes(32);
    expect(resolveSecretKey({ dataDir: dir, keyFromEnv: key.toString('hex') }).equals(key)).toBe(true);
    expect(resolveSecretKey({ dataDir: dir, keyFromEnv: key.toString('hex').toUpperCase() }).equals(key)).toBe(true);
  });

  it('accepts base64 (and base64url) of 32 bytes from the environment', () => {
    const key = randomBytes(32);
    expect(resolveSecretKey({ dataDir: dir, keyFromEnv: key.toString('base64') }).equals(key)).toBe(true);
    expect(resolveSecretKey({ dataDir: dir, keyFromEnv: key.toString('base64url') }).equals(key)).toBe(true);
  });

  it('refuses anything else with a configuration error that names SYNCBRIDGE_SECRET_KEY and not the value', () => {
    for (const bad of ['short', randomBytes(31).toString('hex'), randomBytes(16).toString('base64'), `${'g'.repeat(64)}`, randomBytes(33).toString('base64')]) {
      let caught: unknown;
      try {
        resolveSecretKey({ dataDir: dir, keyFromEnv: bad });
      } catch (error) {
        caught = error;
      }
      expect(isSyncBridgeError(caught, 'configuration')).toBe(true);
      expect((caught as Error).message).toContain('SYNCBRIDGE_SECRET_KEY');
      expect((caught as Error).message).not.toContain(bad);
    }
  });

  it('creates <dataDir>/secret.key with mode 0600 on first use and reads the same key afterwards', () => {
    const nested = join(dir, 'data');
    const first = resolveSecretKey({ dataDir: nested });
    expect(first).toHaveLength(32);
    const path = join(nested, 'secret.key');
    if (process.platform !== 'win32') expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(resolveSecretKey({ dataDir: nested }).equals(first)).toBe(true);
    expect(readFileSync(path, 'utf8').trim()).toBe(first.toString('hex'));
  });

  it('prefers the environment key over the file', () => {
    const fileKey = resolveSecretKey({ dataDir: dir });
    const envKey = randomBytes(32);
    expect(resolveSecretKey({ dataDir: dir, keyFromEnv: envKey.toString('hex') }).equals(envKey)).toBe(true);
    expect(resolveSecretKey({ dataDir: dir }).equals(fileKey)).toBe(true);
  });

  it('refuses a damaged key file with a configuration error naming the file', () => {
    writeFileSync(join(dir, 'secret.key'), 'not a key\n');
    expect(() => resolveSecretKey({ dataDir: dir })).toThrow(expect.objectContaining({ code: 'configuration', message: expect.stringContaining('secret.key') }));
  });
});
