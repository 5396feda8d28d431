import type { HttpHandler } from '@azure/functions';
import { toErrorResponse } from './responses';

/**
 * The handler, answering 500 itself when it throws. With `enableHttpStream` on, the Functions host
 * sends nothing at all for a handler that throws (the answer goes back over the stream proxy, which
 * a throw never reaches: Azure/azure-functions-nodejs-library#324), so the caller would wait for its
 * timeout instead of getting the 500 it gets with streaming off. The error goes to the log, never
 * to the caller.
 */
export function answerThrows(handler: HttpHandler): HttpHandler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (error) {
      context.error(`${context.functionName} failed: ${(error as Error)?.message ?? String(error)}`);
      return toErrorResponse(error);
    }
  };
}
