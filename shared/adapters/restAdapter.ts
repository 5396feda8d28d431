import { SyncBridgeError } from '../core/errors';
import type { JsonObject } from '../core/model';
import { ProviderHttpClient } from '../http/providerHttpClient';
import type { AdapterContext, AdapterDefinition, Credentials, ListPageRequest, ListPageResult, ProviderAdapter, ProviderRecord, PushRequest, PushResult } from './adapter';

/**
 * A REST provider described by data rather than code: where lists live, how they page, which
 * fields carry the id, the update time and the tombstone flag. A new cursor-paged JSON API needs
 * only a RestProviderSpec (see providers/sandbox.ts).
 */
export interface RestProviderSpec {
  provider: string;
  displayName: string;
  entities: readonly string[];
  maxPageSize: number;
  /**
   * How requests authenticate. `apiKeyHeader` takes an apiKey credential; `bearer` takes a bearer
   * token or OAuth 2 credentials; `apiKeyOrBearer` takes either (the sandbox accepts both).
   */
  auth: { kind: 'apiKeyHeader'; header: string } | { kind: 'bearer' } | { kind: 'apiKeyOrBearer'; header: string } | { kind: 'none' };
  list: {
    /** Path template; `{entity}` is replaced by the entity name. */
    path: string;
    limitParam: string;
    cursorParam: string;
    sinceParam: string;
    /** Field of the response body that holds the array of records. */
    dataField: string;
    nextCursorField: string;
    totalField?: string;
  };
  record: { idField: string; updatedAtField: string; deletedField?: string };
  /** Path template of one record; `{entity}` and `{id}` are replaced. */
  recordPath: string;
  /** Path of a cheap authenticated call for health checks. */
  healthPath: string;
  /**
   * Two-way sync; absent: read-only. Creates POST to the list path, updates go to the record path
   * with `updateMethod`, deletes DELETE it. Read-only fields are never sent (the provider owns them).
   */
  write?: { updateMethod: 'PATCH' | 'PUT'; readOnlyFields: readonly string[] };
  timeoutMs?: number;
}

function readConfigUrl(config: JsonObject): string {
  const baseUrl = config.baseUrl;
  if (typeof baseUrl !== 'string' || baseUrl === '') {
    throw new SyncBridgeError('validation', 'config.baseUrl is required and must be the provider URL, e.g. "http://127.0.0.1:7072".');
  }
  try {
    const url = new URL(baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new SyncBridgeError('validation', `config.baseUrl "${baseUrl}" is not an http(s) URL.`);
  }
  return baseUrl;
}

class RestAdapter implements ProviderAdapter {
  readonly provider: string;
  private readonly client: ProviderHttpClient;

  constructor(private readonly spec: RestProviderSpec, context: AdapterContext) {
    this.provider = spec.provider;
    this.client = new ProviderHttpClient({
      baseUrl: readConfigUrl(context.connection.config),
      headers: context.authorizer ? {} : staticAuthHeaders(spec, context.credentials),
      authorizer: context.authorizer,
      timeoutMs: typeof context.connection.config.timeoutMs === 'number' ? context.connection.config.timeoutMs : spec.timeoutMs,
      maxResponseBytes: typeof context.connection.config.maxResponseBytes === 'number' ? context.connection.config.maxResponseBytes : undefined,
      maxRetryWaitMs: typeof context.connection.config.maxRetryWaitMs === 'number' ? context.connection.config.maxRetryWaitMs : undefined,
      telemetry: context.telemetry,
      clock: context.clock,
    });
  }

  async listPage(request: ListPageRequest): Promise<ListPageResult> {
    const { list, record } = this.spec;
    const response = await this.client.request<Record<string, unknown>>({
      path: list.path.replace('{entity}', encodeURIComponent(request.entity)),
      query: { [list.limitParam]: request.limit, [list.cursorParam]: request.cursor, [list.sinceParam]: request.since },
    });
    const body = response.body;
    const items = body?.[list.dataField];
    if (!Array.isArray(items)) {
      throw new SyncBridgeError('transient', `The provider's list answer for ${request.entity} has no "${list.dataField}" array.`);
    }
    const records: ProviderRecord[] = items.map((item: JsonObject) => toProviderRecord(item, record));
    const next = body[list.nextCursorField];
    const total = list.totalField === undefined ? undefined : body[list.totalField];
    return {
      records,
      nextCursor: typeof next === 'string' && next !== '' ? next : null,
      total: typeof total === 'number' ? total : null,
      rateLimit: response.rateLimit,
    };
  }

  async getRecord(entity: string, externalId: string): Promise<ProviderRecord | null> {
    const { record } = this.spec;
    const path = this.spec.recordPath.replace('{entity}', encodeURIComponent(entity)).replace('{id}', encodeURIComponent(externalId));
    try {
      const response = await this.client.request<JsonObject>({ path });
      return toProviderRecord(response.body, record);
    } catch (error) {
      // 404 Not Found or 410 Gone: the provider has no such record (any more).
      if (error instanceof SyncBridgeError && (error.status === 404 || error.status === 410)) return null;
      throw error;
    }
  }

  async push(request: PushRequest): Promise<PushResult> {
    const write = this.spec.write;
    if (!write) throw new SyncBridgeError('configuration', `Provider ${this.spec.provider} is read-only: it takes no pushes.`);
    const headers: Record<string, string> = { 'idempotency-key': request.idempotencyKey };
    if (request.ifMatch !== undefined) headers['if-match'] = request.ifMatch;
    const body = request.data === null ? undefined : withoutFields(request.data, write.readOnlyFields);
    if (request.op === 'create') {
      const response = await this.client.request<JsonObject>({ method: 'POST', path: this.spec.list.path.replace('{entity}', encodeURIComponent(request.entity)), body, headers });
      return { record: toProviderRecord(response.body, this.spec.record) };
    }
    if (request.externalId === null) throw new SyncBridgeError('validation', `A ${request.op} push needs the provider's record id.`);
    const path = this.spec.recordPath.replace('{entity}', encodeURIComponent(request.entity)).replace('{id}', encodeURIComponent(request.externalId));
    if (request.op === 'delete') {
      await this.client.request({ method: 'DELETE', path, headers });
      return { record: null };
    }
    const response = await this.client.request<JsonObject>({ method: write.updateMethod, path, body, headers });
    return { record: toProviderRecord(response.body, this.spec.record) };
  }

  async checkHealth(): Promise<{ ok: boolean; detail?: string }> {
    try {
      await this.client.request({ path: this.spec.healthPath });
      return { ok: true };
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }
}

function withoutFields(data: JsonObject, fields: readonly string[]): JsonObject {
  const copy: JsonObject = { ...data };
  for (const field of fields) delete copy[field];
  return copy;
}

function toProviderRecord(item: JsonObject, fields: RestProviderSpec['record']): ProviderRecord {
  const id = item?.[fields.idField];
  return {
    externalId: id === undefined || id === null ? '' : String(id),
    updatedAt: typeof item?.[fields.updatedAtField] === 'string' ? (item[fields.updatedAtField] as string) : null,
    deleted: fields.deletedField !== undefined && item?.[fields.deletedField] === true,
    data: item,
  };
}

/** Headers for credentials that do not change between requests. */
function staticAuthHeaders(spec: RestProviderSpec, credentials: Credentials): Record<string, string> {
  const { auth } = spec;
  if (auth.kind === 'none') return {};
  if ((auth.kind === 'apiKeyHeader' || auth.kind === 'apiKeyOrBearer') && credentials.type === 'apiKey') return { [auth.header]: credentials.apiKey };
  if (auth.kind !== 'apiKeyHeader') {
    if (credentials.type === 'bearer') return { authorization: `Bearer ${credentials.token}` };
    if (credentials.type === 'oauth2') return { authorization: `Bearer ${credentials.accessToken}` };
  }
  const wanted = auth.kind === 'apiKeyHeader' ? 'an apiKey' : auth.kind === 'bearer' ? 'a bearer or oauth2' : 'an apiKey, bearer or oauth2';
  throw new SyncBridgeError('configuration', `Provider ${spec.provider} needs ${wanted} credential, not ${credentials.type}.`);
}

export function defineRestProvider(spec: RestProviderSpec): AdapterDefinition {
  return {
    provider: spec.provider,
    displayName: spec.displayName,
    entities: spec.entities,
    maxPageSize: spec.maxPageSize,
    validateConfig(config) {
      readConfigUrl(config);
      if (config.pageSize !== undefined) {
        const size = config.pageSize;
        if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > spec.maxPageSize) {
          throw new SyncBridgeError('validation', `config.pageSize must be a whole number from 1 to ${spec.maxPageSize}.`);
        }
      }
      return config;
    },
    create: (context) => new RestAdapter(spec, context),
  };
}
