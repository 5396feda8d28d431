import { HttpResponse, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { ReadableStream } from 'node:stream/web';
import type { FunctionDefinition } from '../../functions/definition';
import { requestBodyLimitFrom, startLocalHost, type LocalHostOptions, type RunningLocalHost } from '../../local/host';
import { connect } from 'node:net';
import type { Statement } from 'better-sqlite3';
import { openDatabase, type SqliteDatabase } from '../../shared/platform/local/database';
import { SqliteQueue } from '../../shared/platform/local/sqliteQueue';
import { enableTurnCommit } from '../../shared/platform/local/turnCommit';
import { openTempDatabase } from './helpers';
import { partialUpload } from '../support/partialUpload';
import { slowSender } from '../support/slowSender';
import { httpTimeoutsFrom } from '../../local/httpTimeouts';

async function echo(request: HttpRequest, context: InvocationContext) {
  return {
    jsonBody: {
      function: context.functionName,
      method: request.method,
      params: request.params,
      query: Object.fromEntries(request.query),
      tags: request.query.getAll('tag'),
      header: request.headers.get('x-custom'),
    },
  };
}

const functions: FunctionDefinition[] = [
  { kind: 'http', name: 'runById', options: { methods: ['GET'], route: 'runs/{id}', handler: echo } },
  { kind: 'http', name: 'activeRuns', options: { methods: ['GET'], route: 'runs/active', handler: echo } },
  { kind: 'http', name: 'runByNumber', options: { methods: ['GET'], route: 'runs/{n:int}', handler: echo } },
  { kind: 'http', name: 'dashboard', options: { methods: ['GET'], route: 'ui/{*path}', handler: echo } },
  { kind: 'http', name: 'startRun', options: { methods: ['POST'], route: 'runs/{id}', handler: echo } },
  { kind: 'http', name: 'health', options: { handler: echo } },
  {
    kind: 'http',
    name: 'webhook',
    options: {
      methods: ['POST'],
      route: 'webhooks/{provider}/{connectionId}',
      handler: async (request) => {
        const bytes = Buffer.from(await request.arrayBuffer());
        return { status: 202, headers: { 'x-body-sha256': createHash('sha256').update(bytes).digest('hex') }, body: String(bytes.length) };
      },
    },
  },
  {
    kind: 'http',
    name: 'bodies',
    options: {
      methods: ['GET'],
      route: 'bodies/{kind}',
      handler: (request): HttpResponseInit | HttpResponse => {
        switch (request.params.kind) {
          case 'buffer':
            return { body: Buffer.from([0, 1, 2, 255]), headers: { 'content-type': 'application/octet-stream' } };
          case 'uint8array':
            return { body: new Uint8Array([9, 8, 7]) };
          case 'stream':
            return {
              body: new ReadableStream<Uint8Array>({
                start(controller) {
                  controller.enqueue(Buffer.from('chunk-1;'));
                  controller.enqueue(Buffer.from('chunk-2'));
                  controller.close();
                },
              }),
            };
          case 'response':
            return new HttpResponse({ status: 201, jsonBody: { made: 'by HttpResponse' }, headers: { 'x-kind': 'response' } });
          case 'cookie':
            return { cookies: [{ name: 'session', value: 'a b', httpOnly: true, path: '/' }] };
          default:
            return {};
        }
      },
    },
  },
  {
    // The same init written directly (?as=init) and through HttpResponse (?as=response): the host's
    // direct path for plain inits must answer exactly what HttpResponse would.
    kind: 'http',
    name: 'plain',
    options: {
      methods: ['GET', 'HEAD'],
      route: 'plain/{n:int}',
      handler: (request): HttpResponseInit | HttpResponse => {
        const init = PLAIN_INITS[Number(request.params.n)];
        return request.query.get('as') === 'response' ? new HttpResponse(init) : init;
      },
    },
  },
  {
    kind: 'http',
    name: 'reads',
    options: {
      methods: ['POST'],
      route: 'reads/{how}',
      handler: async (request) => {
        const how = request.params.how;
        if (how === 'json') return { jsonBody: { parsed: await request.json(), used: request.bodyUsed } };
        if (how === 'twice') {
          await request.text();
          const second = await request.text().then(() => 'read again', (error: Error) => `${error.name}`);
          return { jsonBody: { second } };
        }
        if (how === 'stream') {
          const chunks: Uint8Array[] = [];
          for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
          return { jsonBody: { streamed: Buffer.concat(chunks).toString('utf8') } };
        }
        if (how === 'form') return { jsonBody: { field: (await request.formData()).get('a') } };
        if (how === 'clone') return { jsonBody: { clone: await request.clone().text(), original: await request.text() } };
        return { status: 400 };
      },
    },
  },
  {
    kind: 'http',
    name: 'broken',
    options: {
      methods: ['GET'],
      handler: (_request, context) => {
        context.log('about to fail');
        throw new Error('database password is hunter2');
      },
    },
  },
];

const PLAIN_INITS: HttpResponseInit[] = [
  { jsonBody: { a: 1, text: 'é' } },
  { status: 202, jsonBody: [1, 2], headers: { 'Cache-Control': 'no-store', 'X-Trace': 'abc' } },
  { status: 400, jsonBody: { error: 'x' }, headers: { 'content-type': 'application/problem+json' } },
  { body: 'hello ✓' },
  { status: 201, body: 'csv,data', headers: { 'content-type': 'text/csv' } },
  { body: Buffer.from([1, 2, 3]) },
  { status: 204, jsonBody: { ignored: true } },
  { status: 304 },
  {},
  { status: 302, headers: { location: '/elsewhere' } },
  { jsonBody: null, body: 'from body' },
];

describe.each([false, true])('local host: HTTP trigger (enableHttpStream: %s)', (enableHttpStream) => {
  let env: ReturnType<typeof openTempDatabase>;
  let queue: SqliteQueue;
  let host: RunningLocalHost;
  const lines: string[] = [];

  beforeAll(async () => {
    env = openTempDatabase();
    queue = new SqliteQueue(env.db);
    host = await startLocalHost({ functions, queue, port: 0, setup: { enableHttpStream }, log: (line) => lines.push(line) });
  });
  afterAll(async () => {
    await host.stop();
    queue.close();
    env.cleanup();
  });

  const api = (path: string, init?: RequestInit) => fetch(`${host.url}/api/${path}`, init);
  const echoed = async (res: Response | Promise<Response>) => (await (await res).json()) as { function: string; params: unknown };

  it('listens on a free loopback port and reports its url', () => {
    expect(host.url).toBe(`http://127.0.0.1:${host.port}`);
    expect(host.port).toBeGreaterThan(0);
  });

  it('hands route parameters, query and headers to the handler', async () => {
    const res = await api('runs/r-1?tag=a&tag=b&limit=5', { headers: { 'x-custom': 'hello' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toEqual({
      function: 'runById',
      method: 'GET',
      params: { id: 'r-1' },
      query: { tag: 'b', limit: '5' },
      tags: ['a', 'b'],
      header: 'hello',
    });
  });

  it('prefers a literal segment, then a constrained parameter, over a plain parameter', async () => {
    expect((await echoed(api('runs/active'))).function).toBe('activeRuns');
    expect((await echoed(api('runs/42'))).function).toBe('runByNumber');
    expect((await echoed(api('runs/abc'))).function).toBe('runById');
  });

  it('matches a catch-all route with the rest of the path', async () => {
    expect((await echoed(api('ui/assets/app.js'))).params).toEqual({ path: 'assets/app.js' });
  });

  it('picks the route by method, and answers 404 (not 405) when no route takes the method', async () => {
    expect((await echoed(api('runs/r-1', { method: 'POST' }))).function).toBe('startRun');
    const res = await api('runs/active', { method: 'DELETE' });
    expect(res.status).toBe(404);
  });

  it('routes a function without a route by its name, for GET and POST only', async () => {
    expect((await echoed(api('health'))).function).toBe('health');
    expect((await api('health', { method: 'POST' })).status).toBe(200);
    expect((await api('health', { method: 'PUT' })).status).toBe(404);
  });

  it('answers 404 for an unknown route and for paths outside the route prefix', async () => {
    expect((await api('nothing/here')).status).toBe(404);
    expect((await fetch(`${host.url}/health`)).status).toBe(404);
  });

  it('passes the raw request bytes to the handler unchanged', async () => {
    const bytes = Buffer.concat([Buffer.from('{"a":1}  \r\n'), Buffer.from([0xff, 0xfe, 0x00, 0x80])]);
    const res = await api('webhooks/acme/c1', { method: 'POST', body: bytes, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(202);
    expect(res.headers.get('x-body-sha256')).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(await res.text()).toBe(String(bytes.length));
  });

  it('writes Buffer, Uint8Array and streamed bodies byte for byte', async () => {
    expect(Buffer.from(await (await api('bodies/buffer')).arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(Buffer.from(await (await api('bodies/uint8array')).arrayBuffer())).toEqual(Buffer.from([9, 8, 7]));
    expect(await (await api('bodies/stream')).text()).toBe('chunk-1;chunk-2');
  });

  it('writes an HttpResponse with its status, headers and jsonBody', async () => {
    const res = await api('bodies/response');
    expect(res.status).toBe(201);
    expect(res.headers.get('x-kind')).toBe('response');
    expect(await res.json()).toEqual({ made: 'by HttpResponse' });
  });

  it('answers a plain response init exactly as HttpResponse would', async () => {
    const comparable = (res: Response) =>
      [...res.headers].filter(([name]) => !['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'].includes(name));
    for (const [n] of PLAIN_INITS.entries()) {
      for (const method of ['GET', 'HEAD']) {
        const direct = await api(`plain/${n}?as=init`, { method, redirect: 'manual' });
        const viaResponse = await api(`plain/${n}?as=response`, { method, redirect: 'manual' });
        const label = `init ${n} (${method})`;
        expect({ label, status: direct.status, headers: comparable(direct) }).toEqual({ label, status: viaResponse.status, headers: comparable(viaResponse) });
        expect({ label, body: Buffer.from(await direct.arrayBuffer()) }).toEqual({ label, body: Buffer.from(await viaResponse.arrayBuffer()) });
      }
    }
  });

  it('reads a request body once, as fetch does, and serves streams, forms and clones', async () => {
    const post = (how: string, body: string, type = 'application/json') => api(`reads/${how}`, { method: 'POST', body, headers: { 'content-type': type } });
    expect(await (await post('json', '{"k":[1]}')).json()).toEqual({ parsed: { k: [1] }, used: true });
    expect(await (await post('twice', 'abc')).json()).toEqual({ second: 'TypeError' });
    expect(await (await post('stream', 'streamed bytes')).json()).toEqual({ streamed: 'streamed bytes' });
    expect(await (await post('form', 'a=1&b=2', 'application/x-www-form-urlencoded')).json()).toEqual({ field: '1' });
    expect(await (await post('clone', 'twin')).json()).toEqual({ clone: 'twin', original: 'twin' });
    expect((await post('json', '{not json')).status).toBe(500);
  });

  it('answers 200 with an empty body for an empty response, and writes cookies', async () => {
    const empty = await api('bodies/none');
    expect(empty.status).toBe(200);
    expect(await empty.text()).toBe('');
    const withCookie = await api('bodies/cookie');
    expect(withCookie.headers.getSetCookie()).toEqual(['session=a%20b; Path=/; HttpOnly']);
  });

  it('serves a request whose Host header is not a valid host', async () => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: host.port, path: '/api/health', headers: { host: 'not a host' } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
  });

  it('answers 500 with a generic JSON body when the handler throws, and logs the error', async () => {
    const res = await api('broken');
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: 'internal' });
    expect(text).not.toMatch(/hunter2|at .*\.ts|Error:/);
    expect(lines.some((l) => l.includes('broken') && l.includes('about to fail'))).toBe(true);
    expect(lines.some((l) => l.includes('[error]') && l.includes('database password is hunter2'))).toBe(true);
  });
});

/** A host on a fresh database (committing per turn when asked) for one test; stopped and removed after it. */
async function withHost(
  functions: FunctionDefinition[],
  run: (host: RunningLocalHost, db: SqliteDatabase, dbPath: string) => Promise<void>,
  options: { commitPerTurn?: boolean; prepare?: (db: SqliteDatabase) => void; host?: Partial<LocalHostOptions> } = {},
): Promise<void> {
  const env = openTempDatabase();
  options.prepare?.(env.db);
  if (options.commitPerTurn) enableTurnCommit(env.db);
  const queue = new SqliteQueue(env.db);
  const host = await startLocalHost({ functions, queue, port: 0, log: () => undefined, ...options.host });
  try {
    await run(host, env.db, env.dbPath);
  } finally {
    await host.stop();
    queue.close();
    env.cleanup();
  }
}

describe('local host: configuration', () => {
  it('refuses two functions claiming the same route and method, naming both', async () => {
    const env = openTempDatabase();
    const queue = new SqliteQueue(env.db);
    const handler = () => ({ status: 204 });
    await expect(
      startLocalHost({
        functions: [
          { kind: 'http', name: 'a', options: { route: 'x/{id}', handler } },
          { kind: 'http', name: 'b', options: { route: 'X/{id}', methods: ['POST'], handler } },
        ],
        queue,
        port: 0,
        log: () => undefined,
      }),
    ).rejects.toThrow(/"a" and "b".*x\/\{id\}/);
    queue.close();
    env.cleanup();
  });

  it('logs an Executed line per successful invocation only when asked to', async () => {
    const env = openTempDatabase();
    const queue = new SqliteQueue(env.db);
    const functions: FunctionDefinition[] = [{ kind: 'http', name: 'ping', options: { methods: ['GET'], handler: () => ({ body: 'pong' }) } }];
    const quiet: string[] = [];
    const chatty: string[] = [];
    const quietHost = await startLocalHost({ functions, queue, port: 0, log: (l) => quiet.push(l) });
    const chattyHost = await startLocalHost({ functions, queue, port: 0, logInvocations: true, log: (l) => chatty.push(l) });
    try {
      await (await fetch(`${quietHost.url}/api/ping`)).text();
      await (await fetch(`${chattyHost.url}/api/ping`)).text();
      expect(quiet.filter((l) => l.includes("Executed 'ping'"))).toHaveLength(0);
      expect(chatty.filter((l) => l.includes("Executed 'ping' (Succeeded"))).toHaveLength(1);
    } finally {
      await quietHost.stop();
      await chattyHost.stop();
      queue.close();
      env.cleanup();
    }
  });

  it('drops context.log calls below functionLogLevel (default information), and refuses an unknown level', async () => {
    const env = openTempDatabase();
    const queue = new SqliteQueue(env.db);
    const functions: FunctionDefinition[] = [
      {
        kind: 'http',
        name: 'levels',
        options: {
          methods: ['GET'],
          handler: (_request, context) => {
            context.trace('at trace');
            context.debug('at debug');
            context.info('at info');
            context.warn('at warning');
            return { body: 'ok' };
          },
        },
      },
    ];
    const seenAt = async (functionLogLevel?: LocalHostOptions['functionLogLevel']) => {
      const lines: string[] = [];
      const host = await startLocalHost({ functions, queue, port: 0, functionLogLevel, log: (l) => lines.push(l) });
      try {
        await (await fetch(`${host.url}/api/levels`)).text();
      } finally {
        await host.stop();
      }
      return lines.flatMap((l) => /: at (\w+)$/.exec(l)?.[1] ?? []);
    };
    try {
      expect(await seenAt()).toEqual(['info', 'warning']);
      expect(await seenAt('debug')).toEqual(['debug', 'info', 'warning']);
      expect(await seenAt('trace')).toEqual(['trace', 'debug', 'info', 'warning']);
      expect(await seenAt('none')).toEqual([]);
      await expect(startLocalHost({ functions, queue, port: 0, functionLogLevel: 'verbose' as never })).rejects.toThrow(/functionLogLevel/);
    } finally {
      queue.close();
      env.cleanup();
    }
  });

  it('serves routes at the root with an empty route prefix', async () => {
    const ping: FunctionDefinition = { kind: 'http', name: 'ping', options: { methods: ['GET'], handler: () => ({ body: 'pong' }) } };
    await withHost([ping], async (host) => {
      expect(await (await fetch(`${host.url}/ping`)).text()).toBe('pong');
    }, { host: { routePrefix: '' } });
  });

  it('answers only after the store committed what the handler wrote (the store commits per turn)', async () => {
    let insert: Statement | undefined;
    const note: FunctionDefinition = { kind: 'http', name: 'note', options: { methods: ['POST'], handler: async (request) => {
      const text = await request.text();
      // Written in a check phase: the turn then commits in the next one, after the poll phase in
      // which this process's own client would read an answer sent before the commit.
      await new Promise((done) => setImmediate(done));
      insert!.run(text);
      return { status: 201 };
    } } };
    await withHost([note], async (host, db, dbPath) => {
      insert = db.prepare('INSERT INTO notes (text) VALUES (?)');
      const witness = openDatabase(dbPath); // what another process sees
      try {
        for (let i = 0; i < 20; i += 1) {
          expect((await fetch(`${host.url}/api/note`, { method: 'POST', body: `note ${i}` })).status).toBe(201);
          // The answer arrived: the note is on disk, whoever looks.
          expect(witness.prepare('SELECT COUNT(*) AS n FROM notes WHERE text = ?').get(`note ${i}`)).toEqual({ n: 1 });
        }
      } finally {
        witness.close();
      }
    }, { commitPerTurn: true, prepare: (db) => db.exec('CREATE TABLE notes (text TEXT)') });
  });

  it('answers 500, not 2xx, when the turn holding the handler\'s write is rolled back instead of committed', async () => {
    let db: SqliteDatabase | undefined;
    const lost: FunctionDefinition = { kind: 'http', name: 'lost', options: { methods: ['POST'], handler: async () => {
      db!.prepare('INSERT INTO notes (text) VALUES (?)').run('never stored');
      db!.exec('ROLLBACK'); // what SQLite does itself on an I/O error or a full disk
      return { status: 201 };
    } } };
    await withHost([lost], async (host, handle) => {
      db = handle;
      const answer = await fetch(`${host.url}/api/lost`, { method: 'POST' });
      expect(answer.status).toBe(500);
      expect(handle.prepare('SELECT COUNT(*) AS n FROM notes').get()).toEqual({ n: 0 });
    }, { commitPerTurn: true, prepare: (handle) => handle.exec('CREATE TABLE notes (text TEXT)') });
  });

  it('answers a client that half-closes its socket after the request (connection: close, then FIN)', async () => {
    const slow: FunctionDefinition = { kind: 'http', name: 'slow', options: { methods: ['POST'], handler: async () => {
      await new Promise((done) => setTimeout(done, 30)); // longer than the FIN takes to arrive
      return { status: 202, body: 'late but here' };
    } } };
    await withHost([slow], async (host) => {
      const answer = await new Promise<string>((done, fail) => {
        const socket = connect(host.port, '127.0.0.1', () => {
          socket.end('POST /api/slow HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-length: 2\r\n\r\nhi');
        });
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
        socket.on('close', () => done(text));
        socket.on('error', fail);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 202 /);
      expect(answer.endsWith('late but here')).toBe(true);
    });
  });
  it('answers 413 to a body over maxRequestBodyBytes, sent chunked without a length, before the handler runs', async () => {
    let invoked = 0;
    const sink: FunctionDefinition = { kind: 'http', name: 'sink', options: { methods: ['POST'], handler: async () => {
      invoked += 1;
      return { status: 202 };
    } } };
    await withHost([sink], async (host) => {
      const post = (bytes: number) => new Promise<number>((done, fail) => {
        const req = httpRequest({ host: '127.0.0.1', port: host.port, method: 'POST', path: '/api/sink', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
          res.resume();
          done(res.statusCode ?? 0);
        });
        req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' || error.code === 'EPIPE' ? undefined : fail(error)));
        for (let sent = 0; sent < bytes; sent += 1024) req.write(Buffer.alloc(Math.min(1024, bytes - sent), 120));
        req.end();
      });
      expect(await post(4096)).toBe(202);
      expect(await post(4097)).toBe(413);
      expect(invoked).toBe(1);
    }, { host: { maxRequestBodyBytes: 4096 } });
  });

  it('answers 413 at once to a Content-Length over maxRequestBodyBytes, reading none of the body, streams on or off', async () => {
    let invoked = 0;
    const sink: FunctionDefinition = { kind: 'http', name: 'sink', options: { methods: ['POST'], handler: async () => {
      invoked += 1;
      return { status: 202 };
    } } };
    for (const enableHttpStream of [false, true]) {
      await withHost([sink], async (host) => {
        const answer = await partialUpload({ port: host.port, path: '/api/sink', headers: { 'content-length': '4097' }, send: Buffer.alloc(0) });
        expect(answer).toMatchObject({ status: 413, headers: { connection: 'close' }, serverClosed: true });
      }, { host: { maxRequestBodyBytes: 4096, setup: { enableHttpStream } } });
    }
    expect(invoked).toBe(0);
  });

  it('with HTTP streams on, runs the handler once the headers are in, and closes instead of reading a body it left unread', async () => {
    let invoked = 0;
    const early: FunctionDefinition = { kind: 'http', name: 'early', options: { methods: ['POST'], handler: async () => {
      invoked += 1;
      return { status: 404, jsonBody: { error: 'nothing here' } };
    } } };
    await withHost([early], async (host) => {
      // 64 KB of a 4 MB body: the answer comes without the rest, and the server hangs up rather than read it.
      const answer = await partialUpload({ port: host.port, path: '/api/early', headers: { 'content-length': String(4 * 1024 * 1024) }, send: Buffer.alloc(65_536, 120) });
      expect(answer).toMatchObject({ status: 404, headers: { connection: 'close' }, serverClosed: true });
      // A small body (up to 64 KB) left unread is read off the wire instead, keeping the connection.
      const small = await partialUpload({ port: host.port, path: '/api/early', headers: { 'content-length': '5' }, send: Buffer.from('hello') });
      expect(small.status).toBe(404);
      expect(small.headers.connection).not.toBe('close');
    }, { host: { setup: { enableHttpStream: true } } });
    expect(invoked).toBe(2);
  });

  it('Expect: 100-continue gets 100 only when the body is read: never before a refusal, streams on or off', async () => {
    const counter: FunctionDefinition = { kind: 'http', name: 'counter', options: { methods: ['POST'], handler: async (request) => ({ status: 200, jsonBody: { bytes: (await request.arrayBuffer()).byteLength } }) } };
    const early: FunctionDefinition = { kind: 'http', name: 'early', options: { methods: ['POST'], handler: async () => ({ status: 404 }) } };
    /** Sends the head, then the body only once the server says 100; answers every status line seen. */
    const expectContinue = (port: number, path: string, length: number) => new Promise<{ statuses: number[]; closed: boolean }>((done, fail) => {
      const socket = connect(port, '127.0.0.1');
      let received = '';
      let sentBody = false;
      const finish = (closed: boolean) => {
        clearTimeout(timer);
        socket.destroy();
        done({ statuses: [...received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1])), closed });
      };
      const timer = setTimeout(() => finish(false), 1500);
      socket.on('error', fail);
      socket.on('close', () => finish(true));
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (!sentBody && received.includes('100 Continue\r\n\r\n')) {
          sentBody = true;
          socket.write(Buffer.alloc(length, 120));
        }
      });
      socket.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: ${length}\r\nexpect: 100-continue\r\n\r\n`);
    });
    for (const enableHttpStream of [false, true]) {
      await withHost([counter, early], async (host) => {
        expect(await expectContinue(host.port, '/api/counter', 1000)).toEqual({ statuses: [100, 200], closed: false });
        expect(await expectContinue(host.port, '/api/nope', 1000)).toEqual({ statuses: [404], closed: true });
        expect(await expectContinue(host.port, '/api/counter', 5000)).toEqual({ statuses: [413], closed: true });
        if (enableHttpStream) expect(await expectContinue(host.port, '/api/early', 1000)).toEqual({ statuses: [404], closed: true });
      }, { host: { maxRequestBodyBytes: 4096, setup: { enableHttpStream } } });
    }
  });

  it('closes rather than read a large unread body after a handler that threw, or on no route (Node would discard all of it)', async () => {
    const thrower: FunctionDefinition = { kind: 'http', name: 'thrower', options: { methods: ['POST'], handler: async () => {
      throw new Error('boom');
    } } };
    const big = { 'content-length': String(4 * 1024 * 1024) };
    const chunked = { 'transfer-encoding': 'chunked' };
    for (const enableHttpStream of [false, true]) {
      await withHost([thrower], async (host) => {
        for (const headers of [big, chunked]) {
          const noRoute = await partialUpload({ port: host.port, path: '/api/nope', headers, send: Buffer.alloc(65_536, 120) });
          expect([enableHttpStream, headers, noRoute]).toMatchObject([enableHttpStream, headers, { status: 404, headers: { connection: 'close' }, serverClosed: true }]);
          if (!enableHttpStream) continue; // buffered, the handler runs only once the whole body is in
          const threw = await partialUpload({ port: host.port, path: '/api/thrower', headers, send: Buffer.alloc(65_536, 120) });
          expect([headers, threw]).toMatchObject([headers, { status: 500, headers: { connection: 'close' }, serverClosed: true }]);
        }
        // A small unread body is still drained, keeping the connection.
        const small = await partialUpload({ port: host.port, path: '/api/nope', headers: { 'content-length': '5' }, send: Buffer.from('hello') });
        expect(small.status).toBe(404);
        expect(small.headers.connection).not.toBe('close');
      }, { host: { maxRequestBodyBytes: 8 * 1024 * 1024, setup: { enableHttpStream } } });
    }
  });

  it('with HTTP streams on, fails a handler\'s read past maxRequestBodyBytes and answers 413 whatever it returns', async () => {
    const reads: string[] = [];
    const reader: FunctionDefinition = { kind: 'http', name: 'reader', options: { methods: ['POST'], handler: async (request) => {
      try {
        reads.push(`read ${(await request.arrayBuffer()).byteLength}`);
      } catch (error) {
        reads.push(`failed: ${(error as Error).message}`);
      }
      return { status: 202 };
    } } };
    await withHost([reader], async (host) => {
      const chunked = { 'transfer-encoding': 'chunked' };
      // Over the limit before the last chunk: the answer comes without it.
      const over = await partialUpload({ port: host.port, path: '/api/reader', headers: chunked, send: Buffer.alloc(4097, 120) });
      expect(over).toMatchObject({ status: 413, headers: { connection: 'close' }, serverClosed: true });
      const within = await fetch(`${host.url}/api/reader`, { method: 'POST', body: Buffer.alloc(4096, 120) });
      expect(within.status).toBe(202);
    }, { host: { maxRequestBodyBytes: 4096, setup: { enableHttpStream: true } } });
    expect(reads).toEqual([expect.stringMatching(/^failed: The request body is larger than 4096 bytes/), 'read 4096']);
  });

  it('takes the body limit from FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, as the Functions host does: 100 MB when unset', () => {
    expect(requestBodyLimitFrom({})).toBe(100 * 1024 * 1024);
    expect(requestBodyLimitFrom({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '4194304' })).toBe(4_194_304);
    for (const bad of ['0', '-1', '4MB', '1e6', '1.5']) {
      expect(() => requestBodyLimitFrom({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: bad })).toThrow(/FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be a positive number of bytes/);
    }
  });
});

describe('local host: slow senders (header, request and keep-alive timeouts)', () => {
  // Short enough for a test, long enough that loopback requests never come near them. Node's own
  // defaults (60 s, 300 s checked every 30 s, 5 s) cut none of these clients within GIVE_UP_MS.
  const timeouts = { headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 400 };
  const GIVE_UP_MS = 3_000;
  /** Node checks the header and request timeouts on a timer: how late after its time a client may be cut. */
  const CHECK_SLACK_MS = 300;
  const head = (path: string, headers: Record<string, string> = {}) =>
    [`POST ${path} HTTP/1.1`, 'host: 127.0.0.1', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n';

  it('answers 408 and closes a connection whose headers are not in within headersTimeoutMs, trickled or never sent', async () => {
    let invoked = 0;
    const sink: FunctionDefinition = { kind: 'http', name: 'sink', options: { methods: ['POST'], handler: () => {
      invoked += 1;
      return { status: 202 };
    } } };
    await withHost([sink], async (host) => {
      const [trickling, silent] = await Promise.all([
        // One header byte every 50 ms: the connection is never idle, the headers never end.
        slowSender({ port: host.port, first: 'POST /api/sink HTTP/1.1\r\nhost: 127.0.0.1\r\n', trickle: `x-slow: ${'a'.repeat(200)}`, giveUpAfterMs: GIVE_UP_MS }),
        slowSender({ port: host.port, first: '', giveUpAfterMs: GIVE_UP_MS }),
      ]);
      for (const client of [trickling, silent]) {
        expect(client.statuses).toEqual([408]);
        expect(client.closedAfterMs).toBeGreaterThanOrEqual(timeouts.headersTimeoutMs - 20);
        expect(client.closedAfterMs).toBeLessThan(timeouts.headersTimeoutMs + CHECK_SLACK_MS);
      }
      expect(trickling.trickled).toBeGreaterThan(2);
    }, { host: timeouts });
    expect(invoked).toBe(0);
  });

  it('answers 408 and closes a request whose body trickles past requestTimeoutMs: a handler reading it sees its read fail (streams on), none runs (streams off)', async () => {
    const reads: string[] = [];
    let handlerDone: () => void = () => undefined;
    const reader: FunctionDefinition = { kind: 'http', name: 'reader', options: { methods: ['POST'], handler: async (request) => {
      try {
        reads.push(`read ${(await request.arrayBuffer()).byteLength}`);
        return { status: 202 };
      } catch (error) {
        reads.push(`failed: ${(error as Error).message}`);
        return { status: 400 };
      } finally {
        handlerDone();
      }
    } } };
    for (const enableHttpStream of [false, true]) {
      const lines: string[] = [];
      reads.length = 0;
      const finished = new Promise<void>((done) => (handlerDone = done));
      await withHost([reader], async (host) => {
        const client = await slowSender({ port: host.port, first: head('/api/reader', { 'content-length': '1000' }), trickle: 'x'.repeat(1000), giveUpAfterMs: GIVE_UP_MS });
        expect([enableHttpStream, client.statuses]).toEqual([enableHttpStream, [408]]);
        expect(client.closedAfterMs).toBeGreaterThanOrEqual(timeouts.requestTimeoutMs - 20);
        expect(client.closedAfterMs).toBeLessThan(timeouts.requestTimeoutMs + CHECK_SLACK_MS);
        expect(client.trickled).toBeGreaterThan(timeouts.headersTimeoutMs / 50); // it kept sending past the header timeout
        if (enableHttpStream) await finished; // the handler is not left hanging on a body that will never come
        // The host serves the next client as usual.
        expect((await fetch(`${host.url}/api/reader`, { method: 'POST', body: 'hello' })).status).toBe(202);
      }, { host: { ...timeouts, setup: { enableHttpStream }, log: (line) => lines.push(line) } });
      expect([enableHttpStream, reads]).toEqual([enableHttpStream, enableHttpStream ? [expect.stringMatching(/^failed: /), 'read 5'] : ['read 5']]);
      // The sender's failure, not the host's: nothing logged as an error.
      expect(lines.filter((line) => /error|fail/i.test(line))).toEqual([]);
    }
  });

  it('keeps a connection alive for keepAliveTimeoutMs after an answer, and closes it after that long idle (plus the second Node adds)', async () => {
    const ping: FunctionDefinition = { kind: 'http', name: 'ping', options: { methods: ['GET'], handler: () => ({ body: 'pong' }) } };
    await withHost([ping], async (host) => {
      // Reused just before its time: served. Then left idle: closed.
      const client = await slowSender({
        port: host.port,
        first: 'GET /api/ping HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n',
        againAfterMs: timeouts.keepAliveTimeoutMs - 100,
        giveUpAfterMs: GIVE_UP_MS + 1_000,
      });
      expect(client.statuses).toEqual([200, 200]);
      // Node closes an idle kept-alive socket a second after the timeout it announces
      // (`Keep-Alive: timeout=<s>`), so that a client acting on the announcement never races the close.
      const idleMs = client.closedAfterMs! - client.lastReceivedAfterMs!;
      expect(idleMs).toBeGreaterThanOrEqual(timeouts.keepAliveTimeoutMs + 1_000 - 20);
      expect(idleMs).toBeLessThan(timeouts.keepAliveTimeoutMs + 1_000 + CHECK_SLACK_MS);
    }, { host: timeouts });
  });

  it('leaves a handler alone that takes longer than requestTimeoutMs once the body is in, streams on or off', async () => {
    const slow: FunctionDefinition = { kind: 'http', name: 'slow', options: { methods: ['POST'], handler: async (request) => {
      const text = await request.text();
      await new Promise((done) => setTimeout(done, timeouts.requestTimeoutMs * 2));
      return { body: `took ${text}` };
    } } };
    for (const enableHttpStream of [false, true]) {
      await withHost([slow], async (host) => {
        const answer = await fetch(`${host.url}/api/slow`, { method: 'POST', body: 'my time' });
        expect([enableHttpStream, answer.status, await answer.text()]).toEqual([enableHttpStream, 200, 'took my time']);
      }, { host: { ...timeouts, setup: { enableHttpStream } } });
    }
  });

  it('refuses timeouts that are not positive whole milliseconds, or a header timeout longer than the request timeout', async () => {
    const env = openTempDatabase();
    const queue = new SqliteQueue(env.db);
    try {
      for (const [option, value] of [['headersTimeoutMs', 0], ['requestTimeoutMs', -1], ['keepAliveTimeoutMs', 1.5]] as const) {
        await expect(startLocalHost({ functions: [], queue, port: 0, log: () => undefined, [option]: value })).rejects.toThrow(new RegExp(`LocalHostOptions\\.${option} is invalid`));
      }
      await expect(startLocalHost({ functions: [], queue, port: 0, log: () => undefined, headersTimeoutMs: 2_000, requestTimeoutMs: 1_000 }))
        .rejects.toThrow(/headersTimeoutMs \(2000\) must not exceed requestTimeoutMs \(1000\)/);
    } finally {
      queue.close();
      env.cleanup();
    }
  });

  it('takes the timeouts from SYNCBRIDGE_HTTP_*_TIMEOUT_MS for npm start, leaving unset ones to their defaults', () => {
    expect(httpTimeoutsFrom({})).toEqual({});
    expect(httpTimeoutsFrom({ SYNCBRIDGE_HTTP_HEADERS_TIMEOUT_MS: '10000', SYNCBRIDGE_HTTP_REQUEST_TIMEOUT_MS: ' 60000 ', SYNCBRIDGE_HTTP_KEEP_ALIVE_TIMEOUT_MS: '' }))
      .toEqual({ headersTimeoutMs: 10_000, requestTimeoutMs: 60_000 });
    for (const bad of ['0', '-1', '5s', '1e4', '1.5']) {
      expect(() => httpTimeoutsFrom({ SYNCBRIDGE_HTTP_KEEP_ALIVE_TIMEOUT_MS: bad })).toThrow(/SYNCBRIDGE_HTTP_KEEP_ALIVE_TIMEOUT_MS must be a positive whole number of milliseconds/);
    }
  });
});
