import type { HttpResponseInit } from '@azure/functions';
import { isSyncBridgeError, type SyncBridgeErrorCode } from '../../shared/core/errors';
import { currentTrace } from '../../shared/core/traceContext';
import type { Telemetry } from '../../shared/ports/telemetry';

/** HTTP statuses are chosen here, at the edge, from the domain error code (STYLE.md §6). */
const STATUS: Record<SyncBridgeErrorCode, number> = {
  validation: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  transient: 503,
  provider_rejected: 502,
  auth_failed: 502,
  configuration: 500,
  internal: 500,
};

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'cache-control': 'no-store', ...headers } };
}

export function errorResponse(status: number, code: string, message: string, headers: Record<string, string> = {}): HttpResponseInit {
  return json(status, { error: { code, message } }, headers);
}

/**
 * What a caller is told of a failure on our side (5xx). The domain error's own message stays in
 * telemetry: it is written for an operator and may carry a dependency's raw text (a Cosmos DB or
 * network error, shared/platform/azure/cosmos/cosmosErrors.ts, or a provider's answer).
 */
const SERVER_SIDE: Partial<Record<SyncBridgeErrorCode, string>> = {
  transient: 'A service SyncBridge depends on failed or did not answer in time; try again shortly.',
  provider_rejected: 'The provider refused a request SyncBridge made for this call.',
  auth_failed: "The provider refused the connection's credentials.",
  configuration: 'SyncBridge is not configured correctly for this call.',
};
const INTERNAL = 'Something went wrong on our side.';

/**
 * Maps anything thrown to a response. Domain errors the caller can act on (4xx) keep their message
 * (written for the caller); failures on our side (5xx) are recorded in telemetry and answered with
 * their code and a generic message naming the trace to quote, never a dependency's raw text or a
 * stack trace, unless the error's message was written for the caller (`forCaller`).
 */
export function toErrorResponse(error: unknown, telemetry?: Telemetry): HttpResponseInit {
  if (isSyncBridgeError(error)) {
    const status = STATUS[error.code];
    if (status >= 500) {
      telemetry?.exception(error);
      // A message written for the caller (forCaller) says what happened and what to do; any other only names the trace.
      return serverSide(status, error.code, error.forCaller ? error.message : SERVER_SIDE[error.code] ?? INTERNAL);
    }
    const response = errorResponse(status, error.code, error.message);
    if (error.code === 'rate_limited' && error.retryAt) {
      response.headers = { ...(response.headers as Record<string, string>), 'retry-after': String(Math.max(1, Math.ceil((error.retryAt.getTime() - Date.now()) / 1000))) };
    }
    return response;
  }
  telemetry?.exception(error);
  return serverSide(500, 'internal', INTERNAL);
}

/** A 5xx answer; inside a trace (every admin API call is one) it names the trace id the telemetry carries. */
function serverSide(status: number, code: string, message: string): HttpResponseInit {
  const traceId = currentTrace()?.traceId;
  if (!traceId) return errorResponse(status, code, `${message} It has been logged.`);
  return json(status, { error: { code, message: `${message} It has been logged under trace ${traceId}.`, traceId } });
}
