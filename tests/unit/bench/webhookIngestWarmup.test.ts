import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { warmThenLoad, type ChildServer } from '../../../bench/webhookIngest';

/** A server for the load phases, in this process: counts requests and answers 202. */
async function countingServer(): Promise<{ server: Server; target: ChildServer; requests: () => number }> {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests += 1;
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"accepted":true}');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const target = {
    child: undefined as never,
    port: (server.address() as AddressInfo).port,
    ask: async (cmd: string) => (cmd === 'cpu' ? process.cpuUsage() : undefined),
  };
  return { server, target, requests: () => requests };
}

describe('warmThenLoad (the ingest bench measures a warmed-up server)', () => {
  it('loads the server for the warm-up first and reports it apart from the measured phase', async () => {
    const { server, target, requests } = await countingServer();
    try {
      const result = await warmThenLoad(target, () => '/hook', 0.3, 0.2);
      expect(result.warmup).toBeDefined();
      expect(result.warmup!.seconds).toBe(0.2);
      expect(result.warmup!.accepted).toBeGreaterThan(0);
      expect(result.accepted).toBeGreaterThan(0);
      // Both phases reached the server; the measured figures count only the second.
      expect(requests()).toBe(result.warmup!.accepted + result.warmup!.other + result.accepted + result.other);
      expect(result.warmup!.maxMs).toBeGreaterThanOrEqual(result.warmup!.p99Ms);
      expect(result).not.toHaveProperty('maxMs');
    } finally {
      server.close();
    }
  });

  it('measures at once, with no warm-up reported, when the warm-up is 0', async () => {
    const { server, target, requests } = await countingServer();
    try {
      const result = await warmThenLoad(target, () => '/hook', 0.2, 0);
      expect(result.warmup).toBeUndefined();
      expect(requests()).toBe(result.accepted + result.other);
    } finally {
      server.close();
    }
  });
});
