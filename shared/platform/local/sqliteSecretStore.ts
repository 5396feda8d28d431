import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SyncBridgeError } from '../../core/errors';
import { systemClock, type Clock } from '../../ports/clock';
import type { SecretSetOptions, SecretStore, SecretValue } from '../../ports/secretStore';
import type { SqliteDatabase } from './database';
import { commitNow } from './turnCommit';

export interface SqliteSecretStoreOptions {
  /** Stamps createdAt on new versions. Default the system clock. */
  clock?: Clock;
}

const KEY_BYTES = 32;
const IV_BYTES = 12; // the GCM standard nonce size; random per version, so never reused under one key
const MAX_NAME_LENGTH = 200;

/**
 * One row per secret version. Only the value is encrypted: metadata (content type, expiry, tags)
 * is what operators and the token refresher query, and it must not hold secrets. `seq` orders
 * versions: the newest version of a name is the one with the highest seq.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS secret_versions (
  seq INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  iv BLOB NOT NULL,
  auth_tag BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  content_type TEXT,
  expires_on TEXT,
  tags TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (name, version)
);
CREATE INDEX IF NOT EXISTS secret_versions_by_name ON secret_versions (name, seq);
`;

interface SecretRow {
  name: string;
  version: string;
  iv: Buffer;
  auth_tag: Buffer;
  ciphertext: Buffer;
  content_type: string | null;
  expires_on: string | null;
  tags: string;
  created_at: string;
}

/**
 * SecretStore on SQLite: every version encrypted with AES-256-GCM under one 32-byte key.
 *
 * The secret's name is bound as additional authenticated data, so a ciphertext copied onto
 * another name's row fails authentication instead of yielding that other secret. A wrong key or
 * an altered row fails the GCM tag check and surfaces as SyncBridgeError('configuration'), never
 * as garbage plaintext.
 */
export class SqliteSecretStore implements SecretStore {
  private readonly key: Buffer;
  private readonly clock: Clock;
  private readonly insert;
  private readonly selectNewest;
  private readonly selectVersion;
  private readonly selectVersions;
  private readonly deleteAll;
  private readonly deleteAllButNewest;

  constructor(private readonly db: SqliteDatabase, key: Buffer, options: SqliteSecretStoreOptions = {}) {
    if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
      throw new SyncBridgeError('configuration', `The secret store key must be exactly ${KEY_BYTES} bytes; see resolveSecretKey().`);
    }
    this.key = Buffer.from(key); // a private copy: the caller may zero or reuse its buffer
    this.clock = options.clock ?? systemClock;
    db.exec(SCHEMA);
    this.insert = db.prepare(`
      INSERT INTO secret_versions (name, version, iv, auth_tag, ciphertext, content_type, expires_on, tags, created_at)
      VALUES (@name, @version, @iv, @authTag, @ciphertext, @contentType, @expiresOn, @tags, @createdAt)`);
    this.selectNewest = db.prepare<[string], SecretRow>('SELECT * FROM secret_versions WHERE name = ? ORDER BY seq DESC LIMIT 1');
    this.selectVersion = db.prepare<[string, string], SecretRow>('SELECT * FROM secret_versions WHERE name = ? AND version = ?');
    this.selectVersions = db.prepare<[string], { version: string }>('SELECT version FROM secret_versions WHERE name = ? ORDER BY seq DESC');
    this.deleteAll = db.prepare<[string]>('DELETE FROM secret_versions WHERE name = ?');
    // The OFFSET skips the newest `keep` rows; both halves walk the (name, seq) index.
    this.deleteAllButNewest = db.prepare<{ name: string; keep: number }>(`
      DELETE FROM secret_versions WHERE name = @name AND seq <= (
        SELECT seq FROM secret_versions WHERE name = @name ORDER BY seq DESC LIMIT 1 OFFSET @keep)`);
  }

  async set(name: string, value: string, options: SecretSetOptions = {}): Promise<SecretValue> {
    checkName(name);
    if (typeof value !== 'string') throw new SyncBridgeError('validation', `The value of secret ${name} must be a string.`);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(name, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    const secret: SecretValue = {
      name,
      value,
      version: randomBytes(16).toString('hex'),
      tags: { ...(options.tags ?? {}) },
      createdAt: this.clock.now().toISOString(),
    };
    if (options.contentType !== undefined) secret.contentType = options.contentType;
    if (options.expiresOn !== undefined) secret.expiresOn = options.expiresOn;
    this.insert.run({
      name,
      version: secret.version,
      iv,
      authTag: cipher.getAuthTag(),
      ciphertext,
      contentType: secret.contentType ?? null,
      expiresOn: secret.expiresOn ?? null,
      tags: JSON.stringify(secret.tags),
      createdAt: secret.createdAt,
    });
    // Not left for the end of the turn: a rotated refresh token replaces one the provider has
    // already spent, so it must survive a crash the moment it is stored.
    commitNow(this.db);
    return { ...secret, tags: { ...secret.tags } };
  }

  async get(name: string): Promise<SecretValue | undefined> {
    checkName(name);
    const row = this.selectNewest.get(name);
    return row ? this.open(row) : undefined;
  }

  async getVersion(name: string, version: string): Promise<SecretValue | undefined> {
    checkName(name);
    const row = this.selectVersion.get(name, version);
    return row ? this.open(row) : undefined;
  }

  /** Version ids of the secret, newest first; empty when it does not exist. */
  async listVersions(name: string): Promise<string[]> {
    checkName(name);
    return this.selectVersions.all(name).map((row) => row.version);
  }

  /** Deletes the rows of all but the newest `keep` versions: nothing of a retired version is kept. */
  async retireVersions(name: string, keep: number): Promise<number> {
    checkName(name);
    checkKeep(keep);
    return this.deleteAllButNewest.run({ name, keep }).changes;
  }

  async delete(name: string): Promise<void> {
    checkName(name);
    this.deleteAll.run(name);
  }

  private open(row: SecretRow): SecretValue {
    let value: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, row.iv);
      decipher.setAAD(Buffer.from(row.name, 'utf8'));
      decipher.setAuthTag(row.auth_tag);
      value = Buffer.concat([decipher.update(row.ciphertext), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new SyncBridgeError(
        'configuration',
        `Secret ${row.name} (version ${row.version}) cannot be decrypted: the secret key is not the one it was stored with, or the stored row was altered.`,
        { cause: error },
      );
    }
    const secret: SecretValue = { name: row.name, value, version: row.version, tags: JSON.parse(row.tags) as Record<string, string>, createdAt: row.created_at };
    if (row.content_type !== null) secret.contentType = row.content_type;
    if (row.expires_on !== null) secret.expiresOn = row.expires_on;
    return secret;
  }
}

function checkKeep(keep: number): void {
  if (!Number.isInteger(keep) || keep < 1) throw new SyncBridgeError('validation', `The number of secret versions to keep must be an integer of at least 1, got ${keep}.`);
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new SyncBridgeError('validation', `A secret name must be a non-empty string of at most ${MAX_NAME_LENGTH} characters.`);
  }
}
