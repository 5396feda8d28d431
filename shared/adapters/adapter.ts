import type { Connection, JsonObject, PushOperation } from '../core/model';
import type { ConnectionLimits } from '../http/connectionLimits';
import type { RateLimitInfo } from '../http/rateLimit';
import type { Clock } from '../ports/clock';
import type { Telemetry } from '../ports/telemetry';

/** One record as a provider serves it, before mapping. */
export interface ProviderRecord {
  externalId: string;
  /** The provider's last-update time (ISO), used as the incremental high-water mark. */
  updatedAt: string | null;
  /** A tombstone: the provider reports the record as deleted. */
  deleted: boolean;
  /** The canonical data (after the adapter's mapping). */
  data: JsonObject;
  /**
   * Why the adapter cannot represent this record faithfully (an id that JSON rounded, an object as
   * id): validation refuses the record with this reason instead of storing it under a wrong id.
   */
  invalid?: string;
}

export interface ListPageRequest {
  entity: string;
  /** Incremental reads: only records updated at or after this time. */
  since: string | null;
  /** The provider's cursor from the previous page, or null for the first page. */
  cursor: string | null;
  limit: number;
}

export interface ListPageResult {
  records: ProviderRecord[];
  /** Null when this was the last page. */
  nextCursor: string | null;
  /** How many records the whole listing has, when the provider says. */
  total: number | null;
  rateLimit?: RateLimitInfo;
}

/** Decrypted credential material, as stored (JSON) in the secret store. */
export type Credentials =
  | { type: 'apiKey'; apiKey: string }
  | { type: 'bearer'; token: string }
  | {
      type: 'oauth2';
      accessToken: string;
      refreshToken?: string;
      /** ISO time the access token expires. */
      expiresAt?: string;
      tokenUrl: string;
      clientId: string;
      clientSecret?: string;
      scope?: string;
      /**
       * The grant that produced the access token, and so the one that renews it: a refresh token
       * for `authorization_code`, the client secret for `client_credentials`. Absent in documents
       * written before the field existed; `grantOf` (shared/core/credentials/oauthGrant.ts) infers it.
       */
      grant?: 'authorization_code' | 'client_credentials';
    }
  | { type: 'none' };

/**
 * Authenticates provider requests. Static credentials give the same headers every time; OAuth
 * credentials give the current access token and can refresh it after a 401.
 */
export interface RequestAuthorizer {
  /** Headers that authenticate one request, read fresh for every request. */
  headers(): Promise<Record<string, string>>;
  /**
   * Called once after a 401. Returns true when the credentials were refreshed, so that the request
   * is worth one more try; false (or absent) makes the 401 final.
   */
  refreshAfterUnauthorized?(): Promise<boolean>;
}

export interface AdapterContext {
  connection: Connection;
  credentials: Credentials;
  /** When given, authenticates requests instead of the static `credentials`. */
  authorizer?: RequestAuthorizer;
  clock: Clock;
  telemetry?: Telemetry;
  /**
   * The rate-limit hold and circuit breaker shared by every adapter of this connection in the
   * process (adapterFor.ts). Absent (tests that build an adapter alone): no sharing.
   */
  limits?: ConnectionLimits;
}

/**
 * What the sync engine needs from a provider. One adapter instance serves one connection.
 * Calls make one attempt and throw SyncBridgeError with a code (see ProviderHttpClient); the engine
 * decides about retries.
 */
export interface ProviderAdapter {
  readonly provider: string;
  listPage(request: ListPageRequest): Promise<ListPageResult>;
  /** One record by id (for webhook events that carry only an id); null when the provider has none. */
  getRecord(entity: string, externalId: string): Promise<ProviderRecord | null>;
  /** A cheap authenticated call that proves the credentials and the base URL work. */
  checkHealth(): Promise<{ ok: boolean; detail?: string }>;
  /**
   * Two-way sync: writes one local change to the provider (absent: the provider is read-only).
   * One attempt; failures throw like reads (provider_rejected with `status` 412 when `ifMatch`
   * no longer holds, 422 when the provider refuses the fields).
   */
  push?(request: PushRequest): Promise<PushResult>;
}

export interface PushRequest {
  entity: string;
  op: PushOperation;
  /** The provider's id; null for a create. */
  externalId: string | null;
  /** Fields to write: all of them for a create, the changed ones for an update, null for a delete. */
  data: JsonObject | null;
  /** Sent as Idempotency-Key: a repeated push with the same key writes once. */
  idempotencyKey: string;
  /** Optimistic check: the provider's version (or update time) the change was based on. */
  ifMatch?: string;
}

export interface PushResult {
  /** The record as the provider now holds it; null after a delete. */
  record: ProviderRecord | null;
}

/** A provider the registry knows: its entities, defaults and how to build an adapter. */
export interface AdapterDefinition {
  provider: string;
  displayName: string;
  entities: readonly string[];
  /** Largest page the provider serves; the engine's default page size. */
  maxPageSize: number;
  /** Validates provider config (base URL, …); throws SyncBridgeError('validation') naming the field. */
  validateConfig(config: JsonObject): JsonObject;
  /** Records arrive only by webhook (no pull client): no scheduled or manual runs. */
  webhookOnly?: boolean;
  create(context: AdapterContext): ProviderAdapter;
}
