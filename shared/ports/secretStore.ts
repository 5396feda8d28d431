import type { IsoTime } from '../core/model';

export interface SecretSetOptions {
  contentType?: string;
  /** When the secret stops being valid (for OAuth tokens, the access token's expiry). */
  expiresOn?: IsoTime;
  tags?: Record<string, string>;
}

export interface SecretValue {
  name: string;
  value: string;
  /** Opaque version id; every `set` creates a new one. */
  version: string;
  contentType?: string;
  expiresOn?: IsoTime;
  tags: Record<string, string>;
  createdAt: IsoTime;
}

/**
 * Credentials and other secrets, versioned (Key Vault on Azure, an AES-256-GCM encrypted table
 * locally). Values never leave this port except to the code that uses them: never log them.
 *
 * Semantics (tests/conformance/secretStore.conformance.ts):
 * - `set` creates a new version and returns it; `get` returns the newest version.
 * - `getVersion` returns an older version while it exists; `listVersions` lists the ids of the
 *   live versions (the order is the implementation's: newest first locally).
 * - `retireVersions(name, keep)` makes every version but the newest `keep` unreadable for good:
 *   `getVersion` then answers undefined for them and `listVersions` leaves them out, while `get`
 *   (the newest) is unaffected. Locally the rows are deleted; Key Vault cannot delete one version,
 *   so there they are disabled (kept, unreadable, until the whole secret is deleted).
 * - `delete` removes every version; `get` then returns undefined.
 * - Names are any non-empty string of at most 200 characters.
 */
export interface SecretStore {
  set(name: string, value: string, options?: SecretSetOptions): Promise<SecretValue>;
  /**
   * The newest version. An implementation may serve it from a cache; `fresh: true` reads the store
   * itself (the token refresher does, under its lease, before it spends a rotating refresh token).
   */
  get(name: string, options?: { fresh?: boolean }): Promise<SecretValue | undefined>;
  getVersion(name: string, version: string): Promise<SecretValue | undefined>;
  listVersions(name: string): Promise<string[]>;
  /**
   * Retires every version of `name` except the newest `keep` (an integer of at least 1) and
   * returns how many this call retired; a name without versions retires nothing. Each version
   * holds a generation of a credential (a refresh token, perhaps a client secret), so old ones
   * are a liability and, on Key Vault, a cost for every listing.
   */
  retireVersions(name: string, keep: number): Promise<number>;
  delete(name: string): Promise<void>;
}
