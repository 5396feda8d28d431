import type { OutgoingHttpHeaders } from 'node:http';

/** What a /v1 handler answers: sent as JSON (or as an empty body for 204) by the request pipeline. */
export interface ProviderResult {
  status: number;
  body: unknown;
  headers?: OutgoingHttpHeaders;
}
