import type { HttpHandler } from '@azure/functions';
import { getServices } from '../services';
import { toErrorResponse } from './responses';

/**
 * The handler, answering 500 itself when it throws. With `enableHttpStream` on, the Functions host
 * sends nothing at all for a handler that throws (the answer goes back over the stream proxy, which
 * a throw never reaches: Azure/azure-functions-nodejs-library#324), so the caller would wait for its
 * timeout instead of getting the 500 it gets with streaming off. The error goes to the log and to
 * telemetry, never to the caller.
 */
export function answerThrows(handler: HttpHandler): HttpHandler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (error) {
      context.error(`${context.functionName} failed: ${(error as Error)?.message ?? String(error)}`);
      // Recorded as an exception when the services exist: what gets here is mostly their own
      // failure to start (a setting missing), which is exactly what an operator has to see.
      const telemetry = await getServices().then((services) => services.platform.telemetry).catch(() => undefined);
      return toErrorResponse(error, telemetry);
    }
  };
}
