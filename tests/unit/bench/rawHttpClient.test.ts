import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { postRequest, RawHttpClient } from '../../../bench/rawHttpClient';

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return (server.address() as AddressInfo).port;
}

describe('RawHttpClient (the ingest bench load generator)', () => {
  it('sends every request over one keep-alive socket and reads each status, with the body intact', async () => {
    const seen: Array<{ body: string; signature: string | undefined; socket: unknown }> = [];
    const server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ body: Buffer.concat(chunks).toString(), signature: req.headers['webhook-signature'] as string | undefined, socket: req.socket });
        res.writeHead(seen.length === 2 ? 401 : 202, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ n: seen.length }));
      });
    });
    const client = new RawHttpClient(await listen(server));
    try {
      const statuses: number[] = [];
      for (let n = 0; n < 3; n += 1) statuses.push(await client.send(postRequest('/hook', { 'webhook-signature': `v1,sig${n}`, 'content-length': '999' }, `{"n":${n},"ü":"é"}`)));
      expect(statuses).toEqual([202, 401, 202]);
      expect(seen.map((s) => s.body)).toEqual(['{"n":0,"ü":"é"}', '{"n":1,"ü":"é"}', '{"n":2,"ü":"é"}']);
      expect(seen.map((s) => s.signature)).toEqual(['v1,sig0', 'v1,sig1', 'v1,sig2']);
      expect(new Set(seen.map((s) => s.socket)).size).toBe(1);
    } finally {
      client.close();
      server.close();
    }
  });

  it('waits for a response that arrives in pieces, and fails when the server closes before answering', async () => {
    let requests = 0;
    const server = createTcpServer((socket) => {
      socket.on('data', () => {
        requests += 1;
        if (requests === 1) {
          socket.write('HTTP/1.1 202 Accepted\r\nContent-Le');
          setTimeout(() => socket.write('ngth: 5\r\n\r\nhel'), 20);
          setTimeout(() => socket.write('lo'), 40);
        } else {
          socket.destroy();
        }
      });
    });
    const client = new RawHttpClient(await listen(server));
    try {
      await expect(client.send(postRequest('/hook', {}, '{}'))).resolves.toBe(202);
      await expect(client.send(postRequest('/hook', {}, '{}'))).rejects.toThrow('closed the connection');
    } finally {
      client.close();
      server.close();
    }
  });
});
