import { SyncBridgeError } from '../core/errors';
import type { JsonObject } from '../core/model';
import { ProviderHttpClient } from '../http/providerHttpClient';
import type { AdapterContext, AdapterDefinition, ListPageRequest, ListPageResult, ProviderAdapter, ProviderRecord } from './adapter';

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
  auth: { kind: 'apiKeyHeader'; header: string } | { kind: 'bearer' } | { kind: 'none' };
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
  /** Path of a cheap authenticated call for health checks. */
  healthPath: string;
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
    const headers: Record<string, string> = {};
    const { credentials } = context;
    if (spec.auth.kind === 'apiKeyHeader') {
      if (credentials.type !== 'apiKey') throw new SyncBridgeError('configuration', `Provider ${spec.provider} needs an apiKey credential.`);
      headers[spec.auth.header] = credentials.apiKey;
    } else if (spec.auth.kind === 'bearer') {
      if (credentials.type !== 'bearer') throw new SyncBridgeError('configuration', `Provider ${spec.provider} needs a bearer credential.`);
      headers.authorization = `Bearer ${credentials.token}`;
    }
    this.client = new ProviderHttpClient({
      baseUrl: readConfigUrl(context.connection.config),
      headers,
      timeoutMs: typeof context.connection.config.timeoutMs === 'number' ? context.connection.config.timeoutMs : spec.timeoutMs,
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
    const records: ProviderRecord[] = items.map((item: JsonObject) => ({
      externalId: item?.[record.idField] === undefined || item?.[record.idField] === null ? '' : String(item[record.idField]),
      updatedAt: typeof item?.[record.updatedAtField] === 'string' ? (item[record.updatedAtField] as string) : null,
      deleted: record.deletedField !== undefined && item?.[record.deletedField] === true,
      data: item,
    }));
    const next = body[list.nextCursorField];
    const total = list.totalField === undefined ? undefined : body[list.totalField];
    return {
      records,
      nextCursor: typeof next === 'string' && next !== '' ? next : null,
      total: typeof total === 'number' ? total : null,
      rateLimit: response.rateLimit,
    };
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
