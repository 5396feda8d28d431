import { SyncBridgeError } from '../core/errors';
import type { JsonObject } from '../core/model';
import { circuitBreakerOptionsOf, withCircuitDefaults } from '../http/connectionLimits';
import { ProviderHttpClient } from '../http/providerHttpClient';
import type { Telemetry } from '../ports/telemetry';
import type { AdapterContext, AdapterDefinition, Credentials, ListPageRequest, ListPageResult, ProviderAdapter, ProviderRecord, PushRequest, PushResult } from './adapter';
import { recordIdFromLocation } from './recordIdFromLocation';

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
  private readonly telemetry?: Telemetry;
  private readonly connectionId: string;

  constructor(private readonly spec: RestProviderSpec, context: AdapterContext) {
    this.provider = spec.provider;
    this.telemetry = context.telemetry;
    this.connectionId = context.connection.id;
    this.client = new ProviderHttpClient({
      baseUrl: readConfigUrl(context.connection.config),
      headers: context.authorizer ? {} : staticAuthHeaders(spec, context.credentials),
      authorizer: context.authorizer,
      timeoutMs: typeof context.connection.config.timeoutMs === 'number' ? context.connection.config.timeoutMs : spec.timeoutMs,
      maxResponseBytes: typeof context.connection.config.maxResponseBytes === 'number' ? context.connection.config.maxResponseBytes : undefined,
      maxRetryWaitMs: typeof context.connection.config.maxRetryWaitMs === 'number' ? context.connection.config.maxRetryWaitMs : undefined,
      limits: context.limits,
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
    const total = list.totalField === undefined ? undefined : body[list.totalField];
    return {
      records,
      nextCursor: readNextCursor(body[list.nextCursorField], request.entity, list.nextCursorField),
      total: typeof total === 'number' ? total : null,
      rateLimit: response.rateLimit,
    };
  }

  async getRecord(entity: string, externalId: string): Promise<ProviderRecord | null> {
    const { record } = this.spec;
    const path = this.recordPathOf(entity, externalId);
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
      // Only a 201's Location names the created record; a 202's names an operation to poll (RFC 9110 §15.3.3).
      if (response.status === 201 && response.body === undefined && response.location !== undefined) return { record: await this.readCreated(response.status, response.location, request) };
      return { record: createdRecord(response.status, response.body, this.spec.record, request.entity) };
    }
    if (request.externalId === null) throw new SyncBridgeError('validation', `A ${request.op} push needs the provider's record id.`);
    const path = this.recordPathOf(request.entity, request.externalId);
    if (request.op === 'delete') {
      await this.client.request({ method: 'DELETE', path, headers });
      return { record: null };
    }
    const response = await this.client.request<JsonObject>({ method: write.updateMethod, path, body, headers });
    return { record: toProviderRecord(response.body, this.spec.record) };
  }

  /**
   * The record a bodiless create answer names in its Location, read with one GET through the same
   * client (same credentials; another origin is refused there, before anything is sent).
   *
   * The create did happen, so the push must not fail in a way that sends it again (a second record
   * wherever Idempotency-Key is not honoured). When the read fails as a retry would fix (a 5xx, a
   * timeout, a 429, a hold or open circuit of the connection) and the Location is exactly the
   * record path of one id (recordIdFromLocation), the record is taken as created under that id,
   * with the data the push sent and no update time: the push is done, the record moves to the
   * provider's id, and the next pull or webhook brings the provider's full copy. Any other failure
   * (a 404, a Location that is no record path) parks the push as an unusable create answer, as
   * one without a Location is.
   */
  private async readCreated(status: number, location: string, request: PushRequest): Promise<ProviderRecord> {
    const { entity } = request;
    let read: JsonObject | undefined;
    try {
      read = (await this.client.getLocation<JsonObject>(location)).body;
    } catch (error) {
      const passing = error instanceof SyncBridgeError && (error.code === 'transient' || error.code === 'rate_limited');
      const id = passing ? recordIdFromLocation(location, (candidate) => this.client.urlOf(this.recordPathOf(entity, candidate))) : undefined;
      if (id !== undefined && request.data !== null) {
        this.telemetry?.log('warn', 'Create read-back failed: the record is taken as created under the id its Location names, with the data pushed.', { connectionId: this.connectionId, entity, externalId: id, error: (error as Error).message });
        return { externalId: id, updatedAt: null, deleted: false, data: request.data };
      }
      const why = error instanceof SyncBridgeError && error.status === 404 ? 'the record its Location names was not found (HTTP 404)' : `reading the record its Location names failed: ${(error as Error).message.replace(/\.$/, '')}`;
      throw unusableCreate(status, entity, why);
    }
    return createdRecord(status, read, this.spec.record, entity);
  }

  /** The URL path of one record. Dot-segment ids are refused: URL resolution would drop them (see idProblem). */
  private recordPathOf(entity: string, externalId: string): string {
    const problem = idProblem(externalId);
    if (problem) throw new SyncBridgeError('validation', problem);
    return this.spec.recordPath.replace('{entity}', encodeURIComponent(entity)).replace('{id}', encodeURIComponent(externalId));
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

/**
 * The next page's cursor. A number is a cursor too (many APIs page with `next_page: 2`); null, an
 * absent field or "" mean the last page. Anything else is an answer we cannot follow: reading it as
 * "last page" would end a full listing early and its sweep would delete everything not yet read.
 */
function readNextCursor(next: unknown, entity: string, field: string): string | null {
  if (next === undefined || next === null || next === '') return null;
  if (typeof next === 'string') return next;
  if (typeof next === 'number' && Number.isFinite(next)) return String(next);
  throw new SyncBridgeError('transient', `The provider's list answer for ${entity} has a "${field}" that is neither a string nor a number (${Array.isArray(next) ? 'an array' : typeof next}): SyncBridge cannot follow it to the next page.`);
}

/**
 * Why an id cannot name a record here, or null. JSON.parse reads an integer beyond 2^53 - 1 as the
 * nearest double, so two records would share one rounded id: such ids are refused, never rounded.
 * Objects and arrays have no faithful string form. "." and ".." are dot segments that URL
 * resolution removes (even percent-encoded, "%2E"), so their record path would name another resource.
 */
function idProblem(id: unknown): string | null {
  if (typeof id === 'number') {
    if (!Number.isSafeInteger(id)) return `The record id ${String(id)} is a number that is not a whole number up to 2^53 - 1: JSON numbers this large lose digits, so it cannot name one record (the provider should send it as a string).`;
    return null;
  }
  if (typeof id !== 'string') return id === undefined || id === null ? null : `The record id is ${Array.isArray(id) ? 'an array' : `a${typeof id === 'object' ? 'n object' : ` ${typeof id}`}`}, not a string or a number.`;
  if (id === '.' || id === '..') return `The record id "${id}" is a URL dot segment: its record path would name another resource.`;
  return null;
}

function toProviderRecord(item: JsonObject, fields: RestProviderSpec['record']): ProviderRecord {
  const id = item?.[fields.idField];
  const problem = idProblem(id);
  return {
    externalId: problem !== null || id === undefined || id === null ? '' : String(id),
    updatedAt: typeof item?.[fields.updatedAtField] === 'string' ? (item[fields.updatedAtField] as string) : null,
    deleted: fields.deletedField !== undefined && item?.[fields.deletedField] === true,
    data: item,
    ...(problem !== null && { invalid: problem }),
  };
}

/**
 * The record a create's success answer describes (or the record its Location named, readCreated).
 * An answer without a usable id (201 with an empty body and no Location, or one whose id we
 * cannot represent) cannot be stored, yet the provider did create the
 * record: retrying would create it twice wherever Idempotency-Key is not honoured. It fails as
 * provider_rejected with the success status, which the outbound service parks for a person
 * (classifyPushFailure) instead of retrying.
 */
function createdRecord(status: number, body: JsonObject | undefined, fields: RestProviderSpec['record'], entity: string): ProviderRecord {
  const record = toProviderRecord(body as JsonObject, fields);
  if (record.externalId !== '' && !record.invalid && body !== null && typeof body === 'object' && !Array.isArray(body)) return record;
  const why = record.invalid ?? (body === undefined ? 'the answer had no body and no Location' : `the answer had no "${fields.idField}"`);
  throw unusableCreate(status, entity, why);
}

function unusableCreate(status: number, entity: string, why: string): SyncBridgeError {
  return new SyncBridgeError('provider_rejected', `The provider answered the ${entity} create with HTTP ${status} but SyncBridge cannot tell which record it created: ${why}. The record probably exists at the provider; it is not sent again (that could create it twice).`, { status });
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
      withCircuitDefaults(circuitBreakerOptionsOf(config)); // throws naming a bad circuit setting
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
