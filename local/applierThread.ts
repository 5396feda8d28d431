import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SyncBridgeError } from '../shared/core/errors';
import type { DestinationPolicy } from '../shared/http/destinationPolicy';
import type { JournalPosition } from '../shared/platform/local/webhookJournal';
import type { LogLevel } from '../shared/ports/telemetry';
import { describeError, hostLine, type FunctionLogLevel, type HostLog } from './invocation';
import type { ThreadNicenessResult } from './threadPriority';

/**
 * What the applier thread builds its platform and services from: plain data, as it crosses to a
 * worker thread. The services are the default composition (`createServices`) with `engine`
 * options and the `extensions` module, as `npm start` builds them.
 */
export interface ApplierThreadData {
  dataDir: string;
  secretKey?: string;
  logLevel?: LogLevel;
  /** `discard`: no telemetry (benchmarks); default: `<dataDir>/telemetry.log`, as the receiving thread. */
  telemetry?: 'file' | 'discard';
  engine?: { maxActiveRunsPerTenant?: number };
  /**
   * The extensions module (shared/extensions.ts) the thread loads into its services, as the
   * receiving thread did: custom merge rules and adapters do not cross to a thread as objects.
   */
  extensions?: string;
  destinationPolicy: DestinationPolicy;
  /** The queue-triggered functions the thread runs (by name, from functions/all.ts). */
  functions: string[];
  /** The webhook journal the thread drains, when the receiving platform journals. */
  journalDir?: string;
  maxConcurrentSessions: number;
  maxConcurrentCalls: number;
  queuePollIntervalMs: number;
  sessionIdleMs: number;
  logInvocations: boolean;
  functionLogLevel: FunctionLogLevel;
  /**
   * How many steps below the process's scheduling priority the thread runs, 0 (the same) to 19
   * (capped at niceness 19). Default 10: when both threads want the CPU, receipt runs first and
   * applying catches up, bounded by the journal's back-pressure (docs/local-host.md "Applier
   * thread"). Linux only; elsewhere the thread runs at the process's priority.
   */
  niceness?: number;
}

export type ToApplierThread = { type: 'wake' } | { type: 'queue-activity'; queue: string } | { type: 'stop'; timeoutMs: number };

export type FromApplierThread =
  | { type: 'ready'; lockOwner: string; priority: ThreadNicenessResult }
  | { type: 'failed'; message: string }
  | { type: 'log'; line: string }
  | { type: 'drained'; position: JournalPosition }
  | { type: 'stopped' };

export interface ApplierThread {
  /** New frames are in the journal. */
  wake(): void;
  /** A message was sent to one of the thread's queues from this thread. */
  queueActivity(queue: string): void;
  /** Stops the drain and the thread's functions (waiting up to `timeoutMs` for invocations) and ends the thread. */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * The compiled entry of the thread. Under ts-jest this module runs from its TypeScript source,
 * and a worker thread cannot load TypeScript: it then takes the build's copy (`npm test` builds
 * first).
 */
function applierThreadScript(): string {
  const beside = join(__dirname, 'applierThreadMain.js');
  if (existsSync(beside)) return beside;
  const built = resolve(__dirname, '../dist/local/applierThreadMain.js');
  if (existsSync(built)) return built;
  throw new SyncBridgeError('configuration', `The applier thread's script is missing (${built}); run \`npm run build\` first.`);
}

/** How long after an unexpected end the thread is started again (doubling to a minute while it keeps failing). */
const RESTART_DELAY_MS = 1000;

/**
 * The local host's second thread (docs/local-host.md "Applier thread"): the queue-triggered
 * functions named in `data.functions` and the webhook journal's drain run there, on their own
 * SQLite handle, while this thread receives HTTP. With the journal on, the receiving thread
 * writes nothing to SQLite during a webhook load, so the two never wait for each other's lock.
 *
 * Should the thread end unexpectedly (an uncaught error in it), it is logged and started again
 * after RESTART_DELAY_MS: the journal and the queue keep everything it had not finished, and its
 * message locks lapse as a crashed host's would.
 */
export interface ApplierThreadHandlers {
  log: HostLog;
  onDrained: (position: JournalPosition) => void;
  /** The thread ended unexpectedly: give back the queue locks it held under this owner id (SqliteQueue.releaseLocksOf). */
  releaseLocksOf: (lockOwner: string) => void;
}

export async function startApplierThread(data: ApplierThreadData, handlers: ApplierThreadHandlers, options: { restartDelayMs?: number } = {}): Promise<ApplierThread> {
  const restartDelayMs = options.restartDelayMs ?? RESTART_DELAY_MS;
  let stopping = false;
  let current = await spawn(data, handlers);
  let delay = restartDelayMs;
  let restartTimer: NodeJS.Timeout | undefined;
  let restarting: Promise<void> | undefined;
  let stopTimeoutMs = 10_000;
  const watch = (thread: RunningThread) => {
    void thread.exited.then((code) => {
      if (stopping) return;
      handlers.log(hostLine('error', `The applier thread ended unexpectedly (exit code ${code}); starting it again in ${delay} ms.`));
      try {
        handlers.releaseLocksOf(thread.lockOwner);
      } catch (error) {
        handlers.log(hostLine('warning', `Releasing the applier thread's queue locks failed (they lapse by themselves): ${describeError(error)}`));
      }
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        restarting = spawn(data, handlers).then(
          async (next) => {
            // stop() came while it started: it must not outlive the host.
            if (stopping) return next.stop(stopTimeoutMs);
            current = next;
            delay = restartDelayMs;
            watch(next);
          },
          (error: unknown) => {
            handlers.log(hostLine('error', `Starting the applier thread again failed: ${describeError(error)}`));
            delay = Math.min(60_000, delay * 2);
            watch({ ...thread, exited: Promise.resolve(code) });
          },
        );
      }, delay);
    });
  };
  watch(current);
  return {
    wake: () => current.post({ type: 'wake' }),
    queueActivity: (queue) => current.post({ type: 'queue-activity', queue }),
    async stop(timeoutMs) {
      stopping = true;
      stopTimeoutMs = timeoutMs;
      if (restartTimer) clearTimeout(restartTimer);
      await current.stop(timeoutMs);
      await restarting; // a thread that was starting stops itself once started
    },
  };
}

interface RunningThread {
  lockOwner: string;
  post(message: ToApplierThread): void;
  exited: Promise<number>;
  stop(timeoutMs: number): Promise<void>;
}

async function spawn(data: ApplierThreadData, handlers: ApplierThreadHandlers): Promise<RunningThread> {
  // libuv's thread pool (file I/O, DNS, some crypto) is created by its first use and its threads
  // take the niceness of the thread that used it: started here first, it stays at this thread's
  // priority rather than the applier thread's lowered one (threadPriority.ts).
  await stat(data.dataDir).catch(() => undefined);
  const worker = new Worker(applierThreadScript(), { workerData: data });
  let stopped: (() => void) | undefined;
  const exited = new Promise<number>((done) => worker.once('exit', (code) => done(code)));
  let lockOwner = '';
  await new Promise<void>((ready, fail) => {
    worker.on('message', (message: FromApplierThread) => {
      if (message.type === 'ready') {
        lockOwner = message.lockOwner;
        const { priority } = message;
        handlers.log(
          hostLine(
            'information',
            priority.applied
              ? `The applier thread runs as thread ${priority.systemThreadId} at niceness ${priority.to} (the process's: ${priority.from}).`
              : `The applier thread runs at the process's priority: ${priority.reason}.`,
          ),
        );
        ready();
      }
      else if (message.type === 'failed') fail(new SyncBridgeError('configuration', `The applier thread could not start: ${message.message}`));
      else if (message.type === 'log') handlers.log(message.line);
      else if (message.type === 'drained') handlers.onDrained(message.position);
      else if (message.type === 'stopped') stopped?.();
    });
    worker.once('error', fail);
    void exited.then((code) => fail(new SyncBridgeError('configuration', `The applier thread exited (code ${code}) before it started.`)));
  }).catch(async (error: unknown) => {
    // A thread that could not start is ended, not left holding its database handle.
    await worker.terminate();
    throw error;
  });
  worker.on('error', (error) => handlers.log(hostLine('error', `The applier thread failed: ${describeError(error)}`)));
  const post = (message: ToApplierThread) => worker.postMessage(message);
  return {
    lockOwner,
    post,
    exited,
    async stop(timeoutMs) {
      const done = new Promise<void>((resolve) => {
        stopped = resolve;
      });
      post({ type: 'stop', timeoutMs });
      await Promise.race([done, exited]);
      // It ends by itself once stopped; anything still holding it is cut off after a grace period.
      const grace = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(grace);
    },
  };
}
