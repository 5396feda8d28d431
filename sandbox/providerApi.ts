import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { SyncBridgeError } from '../shared/core/errors';
import { isSandboxEntity } from './entities';
import { encodeCursor } from './listingKey';
import { parseListingQuery } from './listingQuery';
import { pathSegments, sendError, sendJson, sendTruncatedJson } from './httpIo';
import { PathKind } from './requestStats';
import { SandboxState } from './sandboxState';

/** Waits `ms`, or less if the sandbox closes first; closing must not wait for slow responses. */
export type Delay = (ms: number) => Promise<void>;

interface ProviderResult {
  status: number;
  body: unknown;
  headers?: OutgoingHttpHeaders;
}

/**
 * The simulated provider API under /v1. Per request, in this order: the rate-limit window is
 * charged (by the presented key, so even rejected keys are limited), the fault decision is drawn,
 * the slow-down applied, then a limit or injected fault answers, or the request is authenticated
 * and routed. Every response carries the X-RateLimit-* headers.
 */
export async function handleProviderRequest(state: SandboxState, req: IncomingMessage, res: ServerResponse, url: URL, delay: Delay): Promise<void> {
  const segments = pathSegments(url);
  const kind: PathKind = segments.length === 2 ? 'list' : segments.length === 3 ? 'record' : 'unknown';
  const presentedKey = headerValue(req, 'x-api-key');

  const limit = state.limiter.take(presentedKey ?? '');
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
  } else {
    try {
      const result = route(state, req, segments, url, presentedKey);
      status = result.status;
      const responseHeaders = { ...headers, ...result.headers };
      if (faults.truncate) {
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

function route(state: SandboxState, req: IncomingMessage, segments: string[], url: URL, presentedKey: string | undefined): ProviderResult {
  if (!keyMatches(presentedKey, state.options.apiKey)) {
    throw new SyncBridgeError('unauthorized', presentedKey === undefined ? 'Missing X-Api-Key header.' : 'The X-Api-Key header does not hold a valid API key.');
  }
  if (req.method !== 'GET') {
    return { status: 405, body: { error: `Method ${req.method} is not allowed: the provider API is read-only.` }, headers: { Allow: 'GET' } };
  }
  const [, entity, id] = segments;
  if (segments.length < 2 || segments.length > 3 || !isSandboxEntity(entity)) {
    throw new SyncBridgeError('not_found', `No such resource: ${url.pathname}. Entities are /v1/customers, /v1/products, /v1/orders, /v1/inventory and /v1/payments.`);
  }
  const store = state.dataset.store(entity);
  if (id !== undefined) {
    const record = store.get(id);
    if (!record) throw new SyncBridgeError('not_found', `No ${entity} record with id '${id}'.`);
    return { status: 200, body: record };
  }
  const query = parseListingQuery(entity, url.searchParams, state.options.maxPageSize);
  const page = store.list(query);
  return {
    status: 200,
    body: { data: page.items, next_cursor: page.nextKey ? encodeCursor(entity, page.nextKey) : null, total: page.total },
  };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Constant-time comparison over digests, so neither content nor length leaks through timing. */
function keyMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
