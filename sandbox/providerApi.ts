import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { SyncBridgeError } from '../shared/core/errors';
import { isSandboxEntity } from './entities';
import type { WriteRejection } from './faults';
import { encodeCursor } from './listingKey';
import { parseListingQuery } from './listingQuery';
import { pathSegments, sendError, sendJson, sendTruncatedJson } from './httpIo';
import { authenticateProviderRequest, forbidsWrites, headerValue, rateLimitKey } from './providerAuth';
import { ProviderResult } from './providerResult';
import { PathKind } from './requestStats';
import { SandboxState } from './sandboxState';
import { etagFor } from './writes/preconditions';
import { WriteMethod, handleWrite } from './writes/writeApi';

/** Waits `ms`, or less if the sandbox closes first; closing must not wait for slow responses. */
export type Delay = (ms: number) => Promise<void>;

const COLLECTION_METHODS = 'GET, POST';
const RECORD_METHODS = 'GET, PUT, PATCH, DELETE';

/**
 * The simulated provider API under /v1. Per request, in this order: the rate-limit window is
 * charged (by the presented credential, so even rejected keys are limited), the fault decision
 * is drawn, the slow-down applied, then a limit, an injected fault, a refused write
 * (`rejectWrites`) or the credential echo answers, or the request is authenticated and routed.
 * Every response carries the X-RateLimit-* headers. An injected 5xx or refused write comes before
 * the write (nothing changes); a truncated response comes after it (the write
 * happened, the client cannot tell), which is the case Idempotency-Key exists for.
 */
export async function handleProviderRequest(state: SandboxState, req: IncomingMessage, res: ServerResponse, url: URL, delay: Delay): Promise<void> {
  const segments = pathSegments(url);
  const method = req.method ?? 'GET';
  const isWrite = method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE';
  const kind: PathKind = segments.length < 2 || segments.length > 3 ? 'unknown' : isWrite ? 'write' : segments.length === 2 ? 'list' : 'record';

  const limit = state.limiter.take(rateLimitKey(state, req));
  const headers: OutgoingHttpHeaders = {
    'X-RateLimit-Limit': String(limit.limit),
    'X-RateLimit-Remaining': String(limit.remaining),
    'X-RateLimit-Reset': String(limit.resetSecond),
  };
  const faults = state.faults.decide();
  if (faults.slowMs > 0) {
    state.stats.injected('slowed');
    await delay(faults.slowMs);
    if (res.destroyed) return;
  }

  let status: number;
  let rejection: WriteRejection | undefined;
  if (!limit.allowed) {
    state.stats.injected('rateLimited');
    status = 429;
    sendJson(res, status, { error: `Rate limit of ${limit.limit} requests exceeded; retry after ${limit.retryAfterSeconds} s.` }, { ...headers, 'Retry-After': String(limit.retryAfterSeconds) });
  } else if (faults.error5xxStatus) {
    state.stats.injected('error5xx');
    status = faults.error5xxStatus;
    sendJson(res, status, { error: `Injected fault: the provider answered ${status}.` }, headers);
  } else if (faults.rate429) {
    state.stats.injected('rate429');
    status = 429;
    sendJson(res, status, { error: 'Injected fault: too many requests; retry after 1 s.' }, { ...headers, 'Retry-After': '1' });
  } else if (isWrite && (rejection = state.faults.takeWriteRejection())) {
    state.stats.injected('rejectedWrites');
    status = rejection.status;
    const retryAfter = rejection.retryAfterSeconds ?? (status === 429 ? 1 : undefined);
    sendJson(res, status, { error: `Injected fault: the provider refused the ${method} with HTTP ${status}; nothing was written.` }, retryAfter === undefined ? headers : { ...headers, 'Retry-After': String(retryAfter) });
  } else if (faults.echoCredentials) {
    state.stats.injected('echoedCredentials');
    status = 400;
    // The echo comes first, so that a client quoting the start of the body quotes the credentials.
    const echo = { authorization: headerValue(req, 'authorization') ?? null, 'x-api-key': headerValue(req, 'x-api-key') ?? null };
    sendJson(res, status, { echo, error: 'Injected fault: the request was refused, and its credentials are echoed.' }, headers);
  } else {
    try {
      const result = await route(state, req, method, segments, url);
      status = result.status;
      const responseHeaders = { ...headers, ...result.headers };
      if (status === 204) {
        res.writeHead(204, responseHeaders);
        res.end();
      } else if (faults.truncate) {
        state.stats.injected('truncated');
        sendTruncatedJson(res, status, result.body, responseHeaders);
      } else {
        sendJson(res, status, result.body, responseHeaders);
      }
    } catch (error) {
      status = sendError(res, error, headers);
    }
  }
  state.stats.record(kind, status);
}

async function route(state: SandboxState, req: IncomingMessage, method: string, segments: string[], url: URL): Promise<ProviderResult> {
  const authentication = authenticateProviderRequest(state, req);
  if (!authentication.ok) return authentication.result;
  const [, entity, id] = segments;
  if (segments.length < 2 || segments.length > 3 || !isSandboxEntity(entity)) {
    throw new SyncBridgeError('not_found', `No such resource: ${url.pathname}. Entities are /v1/customers, /v1/products, /v1/orders, /v1/inventory and /v1/payments.`);
  }
  const allowed = id === undefined ? COLLECTION_METHODS : RECORD_METHODS;
  if (!allowed.split(', ').includes(method)) {
    return { status: 405, body: { error: `Method ${method} is not allowed on ${url.pathname}; use ${allowed}.` }, headers: { Allow: allowed } };
  }
  if (method !== 'GET') {
    const forbidden = forbidsWrites(authentication.principal);
    if (forbidden) return forbidden;
    return handleWrite(state, req, method as WriteMethod, { entity, id });
  }
  const store = state.dataset.store(entity);
  if (id !== undefined) {
    const record = store.get(id);
    if (!record) throw new SyncBridgeError('not_found', `No ${entity} record with id '${id}'.`);
    return { status: 200, body: record, headers: { ETag: etagFor(store.version(id)!) } };
  }
  const query = parseListingQuery(entity, url.searchParams, state.options.maxPageSize);
  const page = store.list(query);
  return {
    status: 200,
    body: { data: page.items, next_cursor: page.nextKey ? encodeCursor(entity, page.nextKey) : null, total: page.total },
  };
}
