import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted answer of the loopback provider. */
export interface ScriptedAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Answers the n-th request (from 1); the request is there for scripts that route by method or path. */
export type ScriptedProvider = (n: number, request: IncomingMessage) => ScriptedAnswer;

/**
 * A provider on loopback whose every answer a test scripts: `answer(n, request)` for the n-th
 * request (from 1, its method, URL and headers at hand), and the time of each request in
 * `requests`. Started before a describe block's tests, closed after them.
 */
export function useScriptedProvider(answer: ScriptedProvider): { readonly baseUrl: string; readonly requests: number[]; script(next: ScriptedProvider): void } {
  let server: Server | undefined;
  let baseUrl = '';
  let current = answer;
  const requests: number[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(Date.now());
      const out = current(requests.length, req);
      res.writeHead(out.status, { 'content-type': 'application/json', ...out.headers }).end(JSON.stringify(out.body));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server?.closeAllConnections();
    server?.close();
  });
  return {
    get baseUrl() {
      return baseUrl;
    },
    requests,
    script(next) {
      current = next;
    },
  };
}
