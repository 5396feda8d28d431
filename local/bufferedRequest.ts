import type { HttpRequest } from '@azure/functions';
import { hostHttpRequest, type HostRequestInit } from './nativeRequest';

/**
 * A handler's request over a body the host already read whole: what the Functions host hands a
 * function with HTTP streams off (`app.setup({ enableHttpStream: false })`, the library's default).
 */
export function bufferedHttpRequest(init: HostRequestInit & { body: Buffer }): HttpRequest {
  const { body, ...rest } = init;
  return hostHttpRequest(rest, { read: () => Promise.resolve(body), fetchInit: () => ({ body }) });
}
