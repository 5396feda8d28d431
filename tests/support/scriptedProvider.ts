import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted answer of the loopback provider. */
export interface ScriptedAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * A provider on loopback whose every answer a test scripts: `answer(n)` for the n-th request (from
 * 1), and the time of each request in `requests`. Started before a describe block's tests, closed
 * after them.
 */
export function useScriptedProvider(answer: (n: number) => ScriptedAnswer): { readonly baseUrl: string; readonly requests: number[]; script(next: (n: number) => ScriptedAnswer): void } {
  let server: Server | undefined;
  let baseUrl = '';
  let current = answer;
  const requests: number[] = [];
  beforeAll(async () => {
    server = createServer((_req, res) => {
      requests.push(Date.now());
      const out = current(requests.length);
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
