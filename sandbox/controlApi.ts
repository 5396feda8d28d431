import type { IncomingMessage, ServerResponse } from 'node:http';
import { SyncBridgeError } from '../shared/core/errors';
import { SANDBOX_ENTITIES, SandboxEntity, isSandboxEntity } from './entities';
import { pathSegments, readJsonObject, sendError, sendJson, sendNoContent } from './httpIo';
import { handleOAuthControl } from './oauth/oauthControl';
import { MAX_RECORDS_PER_ENTITY } from './options';
import { SandboxState } from './sandboxState';
import { formatSecond, parseIsoMs } from './timeline';
import { handleWebhookControl } from './webhooks/webhookControl';

/** Largest count one /mutate request may ask for per kind; keeps a single request bounded. */
const MAX_MUTATIONS_PER_REQUEST = 100_000;

/**
 * The control API under /_sandbox: no auth, JSON in and out, never rate-limited or faulted.
 * Tests and benchmarks use it to change data, time and failure behaviour from outside.
 */
export async function handleControlRequest(state: SandboxState, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const [, resource, entity, id, ...rest] = pathSegments(url);
  const method = req.method ?? 'GET';
  try {
    if (resource === 'webhooks') return await handleWebhookControl(state.webhooks, req, res, url, pathSegments(url).slice(2));
    if (resource === 'oauth') return await handleOAuthControl(state.oauth, req, res, url, pathSegments(url).slice(2));
    if (rest.length > 0) throw notFound(url);
    switch (`${method} ${resource ?? ''}`) {
      case 'GET info':
        return sendJson(res, 200, info(state));
      case 'GET dump':
        return await streamDump(state, res);
      case 'POST mutate':
        return sendJson(res, 200, mutate(state, await readJsonObject(req)));
      case 'GET faults':
        return sendJson(res, 200, state.faults.settings());
      case 'POST faults':
        return sendJson(res, 200, state.faults.configure(await readJsonObject(req)));
      case 'GET clock':
        return sendJson(res, 200, clockView(state));
      case 'POST clock':
        setClock(state, await readJsonObject(req));
        return sendJson(res, 200, clockView(state));
      case 'POST seed':
        reseed(state, await readJsonObject(req));
        return sendJson(res, 200, info(state));
      case 'POST reset':
        state.reset();
        return sendJson(res, 200, info(state));
      case 'GET stats':
        return sendJson(res, 200, state.stats.read());
    }
    if (resource === 'records' && entity !== undefined) {
      return await handleRecord(state, req, res, method, entity, id);
    }
    throw notFound(url);
  } catch (error) {
    sendError(res, error);
  }
}

async function handleRecord(state: SandboxState, req: IncomingMessage, res: ServerResponse, method: string, entityName: string, id: string | undefined): Promise<void> {
  if (!isSandboxEntity(entityName)) throw new SyncBridgeError('not_found', `Unknown entity '${entityName}'; expected one of ${SANDBOX_ENTITIES.join(', ')}.`);
  const store = state.dataset.store(entityName);
  if (id === undefined) {
    if (method !== 'POST') throw new SyncBridgeError('validation', `Use POST /_sandbox/records/${entityName} to create a record.`);
    return sendJson(res, 201, store.create(await readJsonObject(req), state.dataset.mutationSecond()));
  }
  const missing = () => new SyncBridgeError('not_found', `No live ${entityName} record with id '${id}'.`);
  switch (method) {
    case 'GET': {
      const record = store.get(id);
      if (!record) throw missing();
      return sendJson(res, 200, record);
    }
    case 'PATCH': {
      const fields = await readJsonObject(req);
      const record = store.patch(id, fields, state.dataset.mutationSecond());
      if (!record) throw missing();
      return sendJson(res, 200, record);
    }
    case 'DELETE':
      if (!store.delete(id, state.dataset.mutationSecond())) throw missing();
      return sendNoContent(res);
    default:
      throw new SyncBridgeError('validation', `Method ${method} is not supported on a record; use GET, PATCH or DELETE.`);
  }
}

function info(state: SandboxState) {
  const live: Record<string, number> = {};
  for (const entity of SANDBOX_ENTITIES) live[entity] = state.dataset.store(entity).liveCount;
  return {
    entities: SANDBOX_ENTITIES,
    recordsPerEntity: state.dataset.recordsPerEntity,
    seed: state.dataset.seed,
    live,
    maxPageSize: state.options.maxPageSize,
    rateLimit: state.options.rateLimit,
    oauth: state.oauth ? { clientId: state.oauth.options.clientId, accessTokenTtlSeconds: state.oauth.options.accessTokenTtlSeconds, scopes: state.oauth.options.scopes } : null,
    webhookTargets: state.webhooks.list().length,
    clock: clockView(state),
  };
}

function mutate(state: SandboxState, body: Record<string, unknown>) {
  const { entity, ...counts } = body;
  if (typeof entity !== 'string' || !isSandboxEntity(entity)) {
    throw new SyncBridgeError('validation', `Field 'entity' must be one of ${SANDBOX_ENTITIES.join(', ')}; got ${JSON.stringify(entity)}.`);
  }
  for (const [name, value] of Object.entries(counts)) {
    if (name !== 'create' && name !== 'update' && name !== 'delete') {
      throw new SyncBridgeError('validation', `Unknown field '${name}'; /mutate takes entity, create, update and delete.`);
    }
    requireCount(name, value, MAX_MUTATIONS_PER_REQUEST);
  }
  return state.dataset.mutate(entity as SandboxEntity, counts as { create?: number; update?: number; delete?: number });
}

function setClock(state: SandboxState, body: Record<string, unknown>): void {
  if (!('now' in body)) throw new SyncBridgeError('validation', "Field 'now' is required: an ISO-8601 date-time, or null for real time.");
  if (body.now === null) return state.clock.freeze(undefined);
  const ms = typeof body.now === 'string' ? parseIsoMs(body.now) : undefined;
  if (ms === undefined) throw new SyncBridgeError('validation', `Field 'now' must be an ISO-8601 date-time or null; got ${JSON.stringify(body.now)}.`);
  state.clock.freeze(ms);
}

function clockView(state: SandboxState) {
  return { now: formatSecond(state.clock.nowSecond()), frozen: state.clock.frozen, nextMutationAt: formatSecond(state.dataset.mutationSecond()) };
}

function reseed(state: SandboxState, body: Record<string, unknown>): void {
  for (const name of Object.keys(body)) {
    if (name !== 'records' && name !== 'seed') throw new SyncBridgeError('validation', `Unknown field '${name}'; /seed takes records and seed.`);
  }
  const records = body.records ?? state.dataset.recordsPerEntity;
  const seed = body.seed ?? state.dataset.seed;
  requireCount('records', records, MAX_RECORDS_PER_ENTITY);
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new SyncBridgeError('validation', "Field 'seed' must be an integer.");
  state.reseed(records as number, seed);
}

function requireCount(name: string, value: unknown, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new SyncBridgeError('validation', `Field '${name}' must be an integer from 0 to ${max}; got ${JSON.stringify(value)}.`);
  }
}

function notFound(url: URL): SyncBridgeError {
  return new SyncBridgeError('not_found', `No control endpoint ${url.pathname}; see docs/sandbox.md.`);
}

/**
 * Streams every live record, entity by entity in id order, without building the whole document:
 * at 100,000 records per entity it would be half a gigabyte. Waits for 'drain' so a slow reader
 * does not make the sandbox buffer the lot anyway.
 */
async function streamDump(state: SandboxState, res: ServerResponse): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
  let chunk = '{';
  for (const [position, entity] of SANDBOX_ENTITIES.entries()) {
    chunk += `${position > 0 ? ',' : ''}${JSON.stringify(entity)}:[`;
    let first = true;
    for (const record of state.dataset.store(entity).liveRecords()) {
      chunk += (first ? '' : ',') + JSON.stringify(record);
      first = false;
      if (chunk.length >= 64 * 1024) {
        if (!res.write(chunk)) await drainedOrClosed(res);
        if (res.destroyed) return;
        chunk = '';
      }
    }
    chunk += ']';
  }
  res.end(chunk + '}');
}

/** Resolves when the response can take more data, or when the client went away. */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
