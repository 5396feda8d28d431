import type { HttpResponseInit } from '@azure/functions';
import { isSyncBridgeError, type SyncBridgeErrorCode } from '../../shared/core/errors';
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
 * Maps anything thrown to a response. Domain errors keep their message (written for the caller);
 * anything else is logged and answered with a generic 500: never a stack trace.
 */
export function toErrorResponse(error: unknown, telemetry?: Telemetry): HttpResponseInit {
  if (isSyncBridgeError(error)) {
    const status = STATUS[error.code];
    if (status >= 500) telemetry?.exception(error);
    const response = errorResponse(status, error.code, error.message);
    if (error.code === 'rate_limited' && error.retryAt) {
      response.headers = { ...(response.headers as Record<string, string>), 'retry-after': String(Math.max(1, Math.ceil((error.retryAt.getTime() - Date.now()) / 1000))) };
    }
    return response;
  }
  telemetry?.exception(error);
  return errorResponse(500, 'internal', 'Something went wrong on our side; it has been logged.');
}
