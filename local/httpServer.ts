import type { HttpFunctionOptions, HttpRequest } from '@azure/functions';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SyncBridgeError } from '../shared/core/errors';
import { bufferedHttpRequest } from './bufferedRequest';
import { StreamedBody, streamedHttpRequest } from './streamedRequest';
import { writeHttpResponse, writeInternalError } from './httpResponseWriter';
import { nodeServerTimeouts, type HttpTimeouts } from './httpTimeouts';
import { createInvocationContext, describeError, hostLine, type FunctionLogLevel, type HostLog, type InFlightInvocations } from './invocation';
import { compareRoutePrecedence, matchRouteSegments, parseRouteTemplate, routePathSegments, type RouteTemplate } from '../shared/http/routeTemplate';

export interface HttpFunctionRoute {
  name: string;
  options: HttpFunctionOptions;
}

export interface LocalHttpServerOptions {
  routes: readonly HttpFunctionRoute[];
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Without slashes; '' serves routes at the root, as host.json's extensions.http.routePrefix. */
  routePrefix: string;
  /** Requests with a larger body get 413. Azure's limit is 100 MB. */
  maxRequestBodyBytes: number;
  /**
   * `app.setup({ enableHttpStream })`: on, a handler runs once the headers are in and reads the body
   * from the socket as it arrives; off, the body is read whole before the handler runs.
   */
  enableHttpStream: boolean;
  /** How long a client may take to send its headers, its whole request, and the next one on a kept-alive connection. */
  timeouts: HttpTimeouts;
  log: HostLog;
  /** Log an "Executed … (Succeeded …)" line per successful invocation; failures are always logged. */
  logInvocations: boolean;
  /** context.log calls below this level are dropped. */
  functionLogLevel: FunctionLogLevel;
  inFlight: InFlightInvocations;
  /**
   * Resolves when the writes made so far are durable. Awaited before an answer is written, so a
   * 2xx never leaves before what it acknowledges is stored (the local store commits per turn).
   */
  whenDurable: () => Promise<void>;
}

export interface LocalHttpServer {
  port: number;
  /** Stops accepting connections; resolves when the open ones are gone. */
  close(): Promise<void>;
  /** Cuts every connection still open (after the drain time ran out). */
  destroyConnections(): void;
}

interface CompiledRoute {
  name: string;
  options: HttpFunctionOptions;
  template: RouteTemplate;
  methods: ReadonlySet<string>;
}

/**
 * The HTTP trigger: real HttpRequest objects in (over the bytes already read, bufferedRequest.ts, or
 * with HTTP streams on over the socket, streamedRequest.ts), whatever the handler returns written back.
 * Routing follows the Functions host: `/{routePrefix}/{route}`, route defaulting to the function
 * name, methods defaulting to GET and POST, and a route whose methods do not include the request's
 * method is not a match (so the answer is 404, never 405).
 */
export async function startLocalHttpServer(options: LocalHttpServerOptions): Promise<LocalHttpServer> {
  const routes = compileRoutes(options.routes);
  const onRequest = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean) => {
    const handled = handleRequest(req, res, routes, options, new ContinueGate(res, expectsContinue)).catch((error: unknown) => {
      // Only the host's own code gets here (handler errors are answered inside): still answer.
      options.log(hostLine('error', `Handling ${req.method ?? '?'} ${req.url ?? '?'} failed: ${describeError(error)}`));
      if (!res.headersSent) res.writeHead(400, { 'content-length': 0 });
      res.end();
    });
    void options.inFlight.track(handled);
  };
  // Explicit rather than Node's defaults: a client that trickles its headers or body is answered
  // 408 and cut off in bounded time (httpTimeouts.ts).
  const server = createServer(nodeServerTimeouts(options.timeouts), (req, res) => onRequest(req, res, false));
  // `Expect: 100-continue`: Node would send 100 at once, telling the client to upload a body the
  // host may refuse unread (no route, a declared length over the limit, a handler that answers
  // first). With this listener the 100 goes out only when something reads the body.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => onRequest(req, res, true));
  // A client that half-closes after its request (connection: close, then FIN) still gets its
  // answer: the answer waits at least for the store's commit, and Node would otherwise end the
  // socket when the FIN arrives.
  (server as typeof server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return { port, close: () => closeServer(server), destroyConnections: () => server.closeAllConnections() };
}

function compileRoutes(routes: readonly HttpFunctionRoute[]): CompiledRoute[] {
  const compiled = routes.map(({ name, options }) => ({
    name,
    options,
    template: parseRouteTemplate(options.route ?? name),
    methods: new Set((options.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase())),
  }));
  for (const [i, a] of compiled.entries()) {
    for (const b of compiled.slice(i + 1)) {
      const sameTemplate = a.template.text.toLowerCase() === b.template.text.toLowerCase();
      if (sameTemplate && [...a.methods].some((m) => b.methods.has(m))) {
        throw new SyncBridgeError('configuration', `HTTP functions "${a.name}" and "${b.name}" both claim route "${a.template.text}" for the same methods.`);
      }
    }
  }
  return compiled;
}

/**
 * A client's `Expect: 100-continue`, answered with `100 Continue` once (when the body is first
 * read). A class, not an object literal with a getter: a literal's getter is a new function per
 * request, so each literal got a hidden class of its own, allocated in the old generation, which
 * kept the request reachable through every young-generation collection (docs/webhook-intake.md
 * "Objects that outlived their request").
 */
class ContinueGate {
  private sent = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly expectsContinue: boolean,
  ) {}

  /** The client waits for 100 before it sends the body, and none was sent: it will not send it. */
  get withheld(): boolean {
    return this.expectsContinue && !this.sent;
  }

  open(): void {
    if (!this.expectsContinue || this.sent) return;
    this.sent = true;
    this.res.writeContinue();
  }
}

async function handleRequest(req: IncomingMessage, res: ServerResponse, routes: readonly CompiledRoute[], options: LocalHttpServerOptions, gate: ContinueGate): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const url = requestUrl(req, options.host);
  const path = stripPrefix(url.pathname, options.routePrefix);
  const match = path === undefined ? undefined : findRoute(routes, method, path);
  if (match === undefined) {
    closeIfUnread(req, res, declaredLength(req), gate);
    res.writeHead(404, { 'content-length': 0 });
    res.end();
    return;
  }
  // A declared length over the limit is refused before anything is read. (Which status the
  // Functions host itself answers past FUNCTIONS_REQUEST_BODY_SIZE_LIMIT is not verified: see
  // docs/local-host.md.)
  const declared = declaredLength(req);
  if ((declared ?? 0) > options.maxRequestBodyBytes) {
    refuseTooLarge(res);
    return;
  }
  const init = { method, url: url.toString(), headers: headerRecord(req), params: match.params };
  let request: HttpRequest;
  let streamed: StreamedBody | undefined;
  if (options.enableHttpStream) {
    streamed = new StreamedBody(req, options.maxRequestBodyBytes, declared, () => gate.open());
    request = streamedHttpRequest(init, streamed);
  } else {
    try {
      gate.open();
      request = bufferedHttpRequest({ ...init, body: await readBody(req, options.maxRequestBodyBytes) });
    } catch (error) {
      const tooLarge = error instanceof SyncBridgeError;
      if (tooLarge) refuseTooLarge(res);
      else {
        res.writeHead(400, { 'content-length': 0, connection: 'close' });
        res.end();
      }
      return;
    }
  }
  const context = createInvocationContext(match.route.name, options.log, {
    ...match.params,
    Query: Object.fromEntries(url.searchParams),
    Headers: init.headers,
  }, options.functionLogLevel);
  const startedAt = performance.now();
  try {
    const result = await match.route.options.handler(request, context);
    await options.whenDurable();
    // The handler read past the host's limit: the Functions host answers 413 itself.
    if (streamed?.overLimit) {
      refuseTooLarge(res);
      return;
    }
    closeIfUnread(req, res, declared, gate);
    await writeHttpResponse(res, result, method);
    if (options.logInvocations) options.log(executedLine(match.route.name, context.invocationId, 'Succeeded', startedAt));
  } catch (error) {
    if (streamed?.overLimit) {
      refuseTooLarge(res);
      return;
    }
    options.log(hostLine('error', `${match.route.name} (${context.invocationId}) failed: ${describeError(error)}`));
    options.log(executedLine(match.route.name, context.invocationId, 'Failed', startedAt));
    closeIfUnread(req, res, declared, gate);
    writeInternalError(res, context.invocationId);
  }
}

/**
 * Before any answer to a request whose body was not read to its end (a handler that did not read
 * it, one that threw, no route): a small rest is read off the wire after the answer to keep the
 * connection alive (as Kestrel drains one); a larger or unbounded one is left unread, and the
 * connection closes after the answer. Node would otherwise read and discard all of it to reuse the
 * socket, however large: the host limit would bound nothing.
 */
function closeIfUnread(req: IncomingMessage, res: ServerResponse, declared: number | undefined, gate: ContinueGate): void {
  // A client still waiting for 100 Continue never sends its body: draining would take its next
  // request for that body, so the connection closes instead.
  if (gate.withheld || (!req.complete && !((declared ?? Infinity) <= DRAIN_MAX_BYTES))) res.setHeader('connection', 'close');
}

/** The URL the client asked for; a missing or malformed Host header falls back to the listen address. */
function requestUrl(req: IncomingMessage, listenHost: string): URL {
  const path = req.url ?? '/';
  try {
    return new URL(path, `http://${req.headers.host ?? listenHost}`);
  } catch {
    return new URL(path.startsWith('/') ? path : `/${path}`, `http://${listenHost}`);
  }
}

function stripPrefix(pathname: string, routePrefix: string): string | undefined {
  if (routePrefix === '') return pathname;
  const prefix = `/${routePrefix}`.toLowerCase();
  const lower = pathname.toLowerCase();
  if (lower === prefix) return '';
  if (lower.startsWith(`${prefix}/`)) return pathname.slice(prefix.length + 1);
  return undefined;
}

function findRoute(routes: readonly CompiledRoute[], method: string, path: string) {
  let best: { route: CompiledRoute; params: Record<string, string> } | undefined;
  const segments = routePathSegments(path);
  if (segments === undefined) return undefined;
  for (const route of routes) {
    if (!route.methods.has(method)) continue;
    const params = matchRouteSegments(route.template, segments);
    if (params === undefined) continue;
    if (best === undefined || compareRoutePrecedence(route.template, best.route.template) < 0) best = { route, params };
  }
  return best;
}

/**
 * The request's headers, repeated ones joined with ", " as the Functions host does. Node keeps only
 * the first of a repeated `Authorization` (and drops other singletons' repeats); a handler must
 * see all of them, so that a credential sent twice is refused rather than half-read.
 */
function headerRecord(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  if (headers.authorization !== undefined) {
    const all = req.headersDistinct.authorization;
    if (all && all.length > 1) headers.authorization = all.join(', ');
  }
  return headers;
}

/** The Content-Length that frames the body; none without one, or when chunked framing takes precedence. */
function declaredLength(req: IncomingMessage): number | undefined {
  if (req.headers['transfer-encoding'] !== undefined) return undefined;
  const value = req.headers['content-length'];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** The most of an unread request body read off the wire after the answer, to keep the connection alive. */
const DRAIN_MAX_BYTES = 64 * 1024;

/** 413, and the connection closes: the rest of the body is never read. */
function refuseTooLarge(res: ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(413, { 'content-length': 0, connection: 'close' });
  res.end();
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    total += buffer.length;
    if (total > maxBytes) throw new SyncBridgeError('validation', `The request body is larger than ${maxBytes} bytes.`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, total);
}

function executedLine(name: string, invocationId: string, outcome: 'Succeeded' | 'Failed', startedAt: number): string {
  const durationMs = Math.round(performance.now() - startedAt);
  return hostLine(outcome === 'Succeeded' ? 'information' : 'error', `Executed '${name}' (${outcome}, Id=${invocationId}, Duration=${durationMs}ms)`);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Idle keep-alive sockets would hold close() open; requests in progress finish first.
    server.closeIdleConnections();
  });
}
