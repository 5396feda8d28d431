import type { HttpFunctionOptions, ServiceBusQueueFunctionOptions, SetupOptions, TimerFunctionOptions } from '@azure/functions';
import type { FunctionDefinition } from '../functions/definition';
import { SyncBridgeError } from '../shared/core/errors';
import type { SqliteQueue } from '../shared/platform/local/sqliteQueue';
import type { JournalIntake } from '../shared/platform/local/journalIntake';
import { startApplierThread, type ApplierThread, type ApplierThreadData } from './applierThread';
import { startLocalHttpServer } from './httpServer';
import { DEFAULT_HTTP_TIMEOUTS } from './httpTimeouts';
import { describeError, hostLine, InFlightInvocations, isFunctionLogLevel, type FunctionLogLevel } from './invocation';
import { QueueDispatcher } from './queueDispatcher';
import { TimerScheduler } from './timerScheduler';

export interface LocalHostOptions {
  /** The same definitions functions/index.ts registers with the Azure Functions host. */
  functions: readonly FunctionDefinition[];
  /** The broker the queue triggers consume (and the product sends to). */
  queue: SqliteQueue;
  /** Default 7071 like `func start`; 0 picks a free port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 'api' (host.json extensions.http.routePrefix); '' serves routes at the root. */
  routePrefix?: string;
  /** Default 8 (host.json serviceBus.maxConcurrentSessions), per session-enabled function. */
  maxConcurrentSessions?: number;
  /** Default 16 (host.json serviceBus.maxConcurrentCalls), per function without sessions. */
  maxConcurrentCalls?: number;
  /** Default true. Tests that drive functions by hand turn timers off. */
  enableTimers?: boolean;
  /** IANA zone NCRONTAB schedules are read in (WEBSITE_TIME_ZONE on Azure). Default 'UTC'. */
  timeZone?: string;
  /** How often receivers look for messages sent by other processes. Default 200. */
  queuePollIntervalMs?: number;
  /**
   * How long a held session with nothing to deliver waits for its next message before it is given
   * back (Service Bus sessionIdleTimeout). Default 250; 0 gives it back at once. Saves accepting
   * and releasing a session per message when a connection's webhooks arrive one by one.
   */
  sessionIdleMs?: number;
  /** How long stop() waits for invocations in flight. Default 10_000. */
  stopTimeoutMs?: number;
  /** Requests with a larger body get 413. Default 100 MB, Azure's limit. */
  maxRequestBodyBytes?: number;
  /**
   * How long a client may take to send its request headers, from its first byte; past it, 408 and
   * the connection closes. Default 30_000. At most `requestTimeoutMs`.
   */
  headersTimeoutMs?: number;
  /**
   * How long a client may take to send its whole request, body included, from its first byte;
   * past it, 408 and the connection closes, and a handler still reading the body sees its read
   * fail. Not a limit on the handler once the body is in. Default 120_000.
   */
  requestTimeoutMs?: number;
  /** How long a kept-alive connection may sit idle before the host closes it. Default 5_000 (Node's). */
  keepAliveTimeoutMs?: number;
  /**
   * What the app hands `app.setup` (functions/all.ts `appSetup`). `enableHttpStream: true` hands HTTP
   * handlers a streamed request, as the Functions host then does. Default `{}`: streams off, as in the library.
   */
  setup?: SetupOptions;
  /**
   * The lowest level of context.trace/debug/info/warn/error that is logged, like host.json
   * logging.logLevel.Function. Default 'information': context.debug and context.trace are dropped.
   */
  functionLogLevel?: FunctionLogLevel;
  /** Also log a line per successful invocation, like `func start`. Default false: failures, context.log and host lines only. */
  logInvocations?: boolean;
  /** Every host and function log line. Default: stdout. */
  log?: (line: string) => void;
  /**
   * Runs queue-triggered functions (default: the inbound worker) on a second thread with its own
   * platform on the same data folder, and there too the drain of `journal`, the receiving
   * platform's journal-first webhook intake (createLocalPlatform's `webhookJournal` with
   * `drain: 'applier-thread'`). See docs/local-host.md "Applier thread". Default: off, every
   * function on this thread.
   */
  applierThread?: ApplierThreadOptions;
}

export interface ApplierThreadOptions extends Pick<ApplierThreadData, 'dataDir' | 'secretKey' | 'logLevel' | 'telemetry' | 'engine' | 'extensions' | 'destinationPolicy' | 'niceness'> {
  /** Default ['inboundWorker']. */
  functions?: string[];
  journal?: JournalIntake;
  /** How long after an unexpected end the thread is started again (doubling to a minute while starting fails). Default 1000 ms. */
  restartDelayMs?: number;
}

export interface RunningLocalHost {
  /** e.g. http://127.0.0.1:7071 (without the route prefix). */
  url: string;
  port: number;
  /** Stops HTTP, timers and receivers, waits (bounded) for invocations in flight, releases locks. */
  stop(): Promise<void>;
}

/**
 * Runs function definitions with the Azure Functions host's trigger semantics: HTTP routes under
 * /api, NCRONTAB timers, and Service Bus queue triggers (peek-lock, sessions, retries, dead
 * letters) on the SQLite broker. See docs/local-host.md.
 */
export async function startLocalHost(options: LocalHostOptions): Promise<RunningLocalHost> {
  const settings = withDefaults(options);
  const { log, queue } = settings;
  const inFlight = new InFlightInvocations();
  const http = settings.functions.flatMap((f) => (f.kind === 'http' ? [{ name: f.name, options: f.options as HttpFunctionOptions }] : []));
  const timers = settings.functions.flatMap((f) => (f.kind === 'timer' ? [{ name: f.name, options: f.options as TimerFunctionOptions }] : []));
  const allQueues = settings.functions.flatMap((f) =>
    f.kind === 'serviceBusQueue' ? [{ name: f.name, options: f.options as ServiceBusQueueFunctionOptions }] : [],
  );
  const threaded = options.applierThread ? options.applierThread.functions ?? ['inboundWorker'] : [];
  for (const name of threaded) {
    if (!allQueues.some((f) => f.name === name)) throw new SyncBridgeError('configuration', `LocalHostOptions.applierThread names "${name}", which is not a queue-triggered function of this host.`);
  }
  const niceness = options.applierThread?.niceness;
  if (niceness !== undefined && (!Number.isInteger(niceness) || niceness < 0 || niceness > 19)) {
    throw new SyncBridgeError('configuration', `LocalHostOptions.applierThread.niceness must be a whole number from 0 to 19, got ${niceness}.`);
  }
  const queues = allQueues.filter((f) => !threaded.includes(f.name));

  // Everything that can be misconfigured is checked before anything starts.
  const { logInvocations } = settings;
  const { functionLogLevel } = settings;
  const scheduler = new TimerScheduler({ timers, log, logInvocations, functionLogLevel, inFlight, timeZone: settings.timeZone });
  const dispatcher = new QueueDispatcher({
    functions: queues,
    queue,
    maxConcurrentSessions: settings.maxConcurrentSessions,
    maxConcurrentCalls: settings.maxConcurrentCalls,
    pollIntervalMs: settings.queuePollIntervalMs,
    sessionIdleMs: settings.sessionIdleMs,
    log,
    logInvocations,
    functionLogLevel,
    inFlight,
  });
  // Free the work a crashed host left locked before anything can receive.
  const recovered = queue.releaseOrphanedLocks();
  if (recovered > 0) log(hostLine('information', `Released ${recovered} lock(s) left by a stopped or crashed host; that work is delivered again.`));

  let applier: ApplierThread | undefined;
  const unsubscribes: Array<() => void> = [];
  if (options.applierThread) {
    const { functions: _names, journal, restartDelayMs, ...platformData } = options.applierThread;
    applier = await startApplierThread(
      {
        ...platformData,
        functions: threaded,
        journalDir: journal ? journal.dir : undefined,
        maxConcurrentSessions: settings.maxConcurrentSessions,
        maxConcurrentCalls: settings.maxConcurrentCalls,
        queuePollIntervalMs: settings.queuePollIntervalMs,
        sessionIdleMs: settings.sessionIdleMs,
        logInvocations,
        functionLogLevel,
      },
      { log, onDrained: (position) => journal?.drained(position), releaseLocksOf: (owner) => queue.releaseLocksOf(owner) },
      { restartDelayMs },
    );
    const thread = applier;
    journal?.setOnAppended(() => thread.wake());
    // Messages this thread sends to the applier thread's queues wake its receivers at once.
    for (const f of allQueues.filter((q) => threaded.includes(q.name))) {
      // After the commit: the thread looks with a read, which sees only committed messages.
      const name = f.options.queueName;
      unsubscribes.push(queue.onActivity(name, () => void queue.whenDurable().then(() => thread.queueActivity(name), () => undefined)));
    }
  }

  const server = await startLocalHttpServer({
    routes: http,
    host: settings.host,
    port: settings.port,
    routePrefix: settings.routePrefix,
    maxRequestBodyBytes: settings.maxRequestBodyBytes,
    enableHttpStream: settings.setup.enableHttpStream ?? false,
    timeouts: { headersTimeoutMs: settings.headersTimeoutMs, requestTimeoutMs: settings.requestTimeoutMs, keepAliveTimeoutMs: settings.keepAliveTimeoutMs },
    log,
    logInvocations,
    functionLogLevel,
    inFlight,
    whenDurable: () => queue.whenDurable(),
  });

  dispatcher.start();
  if (settings.enableTimers) scheduler.start();

  const url = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${server.port}`;
  const prefix = settings.routePrefix === '' ? '' : `/${settings.routePrefix}`;
  log(hostLine('information', `Functions:`));
  for (const f of http) log(`  ${f.name}: [${(f.options.methods ?? ['GET', 'POST']).join(',')}] ${url}${prefix}/${f.options.route ?? f.name}`);
  for (const f of timers) log(`  ${f.name}: timerTrigger (${f.options.schedule})${settings.enableTimers ? '' : ' - disabled'}`);
  for (const f of queues) log(`  ${f.name}: serviceBusTrigger (${f.options.queueName}${f.options.isSessionsEnabled ? ', sessions' : ''})`);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      scheduler.stop();
      const serverClosed = server.close();
      await dispatcher.stopReceiving();
      const drained = await inFlight.drain(settings.stopTimeoutMs);
      if (!drained) log(hostLine('warning', `${inFlight.count} invocation(s) still running after ${settings.stopTimeoutMs} ms; their messages will be delivered again.`));
      server.destroyConnections();
      await serverClosed;
      // Nothing more is received: what is journaled and not drained yet stays for the next start.
      const journal = options.applierThread?.journal;
      journal?.stopAccepting();
      for (const unsubscribe of unsubscribes) unsubscribe();
      try {
        await applier?.stop(settings.stopTimeoutMs);
      } finally {
        // The journal's lock is given back only once the thread's drain has stopped: a host
        // started on the folder meanwhile must not drain beside it.
        journal?.close();
      }
      dispatcher.releaseLocks();
      // The last completions and the released locks are committed before stop() resolves, so a
      // caller that exits right after it leaves no message locked for a lock's duration.
      await queue.whenDurable().catch((error: unknown) => log(hostLine('warning', `Committing the last queue moves at stop failed: ${describeError(error)}`)));
    })();
    return stopping;
  };
  return { url, port: server.port, stop };
}

type LocalHostSettings = Required<Omit<LocalHostOptions, 'functions' | 'applierThread'>> & { functions: readonly FunctionDefinition[] };

function withDefaults(options: LocalHostOptions): LocalHostSettings {
  const settings: LocalHostSettings = {
    functions: options.functions,
    queue: options.queue,
    port: options.port ?? 7071,
    host: options.host ?? '127.0.0.1',
    routePrefix: (options.routePrefix ?? 'api').replace(/^\/+|\/+$/g, ''),
    maxConcurrentSessions: options.maxConcurrentSessions ?? 8,
    maxConcurrentCalls: options.maxConcurrentCalls ?? 16,
    enableTimers: options.enableTimers ?? true,
    timeZone: options.timeZone ?? 'UTC',
    queuePollIntervalMs: options.queuePollIntervalMs ?? 200,
    sessionIdleMs: options.sessionIdleMs ?? 250,
    stopTimeoutMs: options.stopTimeoutMs ?? 10_000,
    maxRequestBodyBytes: options.maxRequestBodyBytes ?? AZURE_REQUEST_BODY_LIMIT,
    headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_HTTP_TIMEOUTS.headersTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_HTTP_TIMEOUTS.requestTimeoutMs,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? DEFAULT_HTTP_TIMEOUTS.keepAliveTimeoutMs,
    setup: options.setup ?? {},
    logInvocations: options.logInvocations ?? false,
    functionLogLevel: options.functionLogLevel ?? 'information',
    log: options.log ?? ((line: string) => process.stdout.write(`${line}\n`)),
  };
  if (!Number.isInteger(settings.port) || settings.port < 0 || settings.port > 65_535) invalid('port', settings.port);
  for (const name of ['maxConcurrentSessions', 'maxConcurrentCalls', 'queuePollIntervalMs', 'maxRequestBodyBytes', 'headersTimeoutMs', 'requestTimeoutMs', 'keepAliveTimeoutMs'] as const) {
    if (!Number.isInteger(settings[name]) || settings[name] <= 0) invalid(name, settings[name]);
  }
  // The headers are part of the request: a longer header timeout could never fire (Node refuses it).
  if (settings.headersTimeoutMs > settings.requestTimeoutMs) {
    throw new SyncBridgeError('configuration', `LocalHostOptions.headersTimeoutMs (${settings.headersTimeoutMs}) must not exceed requestTimeoutMs (${settings.requestTimeoutMs}).`);
  }
  if (!isFunctionLogLevel(settings.functionLogLevel)) invalid('functionLogLevel', settings.functionLogLevel);
  for (const name of ['stopTimeoutMs', 'sessionIdleMs'] as const) {
    if (!Number.isInteger(settings[name]) || settings[name] < 0) invalid(name, settings[name]);
  }
  const names = new Set<string>();
  for (const f of settings.functions) {
    if (names.has(f.name)) throw new SyncBridgeError('configuration', `Two functions are named "${f.name}"; function names must be unique.`);
    names.add(f.name);
  }
  return settings;
}

/** Azure's default for FUNCTIONS_REQUEST_BODY_SIZE_LIMIT. */
const AZURE_REQUEST_BODY_LIMIT = 100 * 1024 * 1024;

/**
 * The HTTP trigger's body limit from `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT` (bytes), the app setting
 * the Functions host reads for the same purpose; 100 MB when unset, as on Azure. A request body
 * is read into memory before any handler runs, so this, not the webhook receiver's own 1 MB
 * check, is what bounds the memory one request can take.
 */
export function requestBodyLimitFrom(env: NodeJS.ProcessEnv): number {
  const raw = env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT?.trim();
  if (!raw) return AZURE_REQUEST_BODY_LIMIT;
  const bytes = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new SyncBridgeError('configuration', `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be a positive number of bytes, not "${raw}".`);
  }
  return bytes;
}

function invalid(option: string, value: unknown): never {
  throw new SyncBridgeError('configuration', `LocalHostOptions.${option} is invalid: ${String(value)}.`);
}
