import type { Connection, JsonObject } from '../core/model';
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
export type Credentials = { type: 'apiKey'; apiKey: string } | { type: 'bearer'; token: string } | { type: 'none' };

export interface AdapterContext {
  connection: Connection;
  credentials: Credentials;
  clock: Clock;
  telemetry?: Telemetry;
}

/**
 * What the sync engine needs from a provider. One adapter instance serves one connection.
 * Calls make one attempt and throw SyncBridgeError with a code (see ProviderHttpClient); the engine
 * decides about retries.
 */
export interface ProviderAdapter {
  readonly provider: string;
  listPage(request: ListPageRequest): Promise<ListPageResult>;
  /** A cheap authenticated call that proves the credentials and the base URL work. */
  checkHealth(): Promise<{ ok: boolean; detail?: string }>;
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
  create(context: AdapterContext): ProviderAdapter;
}
