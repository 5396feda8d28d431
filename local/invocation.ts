import type { InvocationContext, TriggerMetadata } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import { hostInvocationContext } from './hostInvocationContext';

/** A line of host output; the host's `log` option receives every one. */
export type HostLog = (line: string) => void;

/**
 * A real InvocationContext, as the Functions worker builds it: context.log/info/warn/error write
 * through the host's log with the function name and invocation id, like the Core Tools console.
 */
export function createInvocationContext(
  functionName: string,
  log: HostLog,
  triggerMetadata: TriggerMetadata = {},
  minLevel: FunctionLogLevel = 'information',
): InvocationContext {
  const invocationId = randomUUID();
  const threshold = LEVEL_ORDER[minLevel];
  return hostInvocationContext({
    invocationId,
    functionName,
    triggerMetadata,
    // Below the threshold nothing is formatted or written (host.json logging.logLevel.Function).
    logHandler: (level, ...args) => {
      if ((LEVEL_ORDER[level as FunctionLogLevel] ?? LEVEL_ORDER.information) < threshold) return;
      log(`${new Date().toISOString()} [${level}] ${functionName} (${invocationId}): ${format(...args)}`);
    },
  });
}

/** The levels of context.trace/debug/info/log/warn/error, lowest first; 'none' logs nothing. */
export type FunctionLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';

const LEVEL_ORDER: Record<FunctionLogLevel, number> = { trace: 0, debug: 1, information: 2, warning: 3, error: 4, critical: 5, none: 6 };

export function isFunctionLogLevel(value: unknown): value is FunctionLogLevel {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(LEVEL_ORDER, value);
}

/** Host-level log line (not tied to one invocation). */
export function hostLine(level: 'information' | 'warning' | 'error', message: string): string {
  return `${new Date().toISOString()} [${level}] host: ${message}`;
}

/** Describes a thrown value for a log line: message and stack, never for a client. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return typeof error === 'string' ? error : format('%o', error);
}

/** The message of a thrown value, for a dead-letter description. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return typeof error === 'string' ? error : format('%o', error);
}

/**
 * Invocations in flight, so that stop() can wait for them (bounded) the way the Functions host
 * drains before shutting a worker down.
 */
export class InFlightInvocations {
  private readonly running = new Set<Promise<unknown>>();

  get count(): number {
    return this.running.size;
  }

  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.running.add(settled);
    void settled.then(() => this.running.delete(settled));
    return work;
  }

  /** Resolves true when all finished, false when the time ran out first. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.running.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const finished = (async () => {
      while (this.running.size > 0) await Promise.all([...this.running]);
      return true as const;
    })();
    const result = await Promise.race([finished, timedOut]);
    clearTimeout(timer);
    return result;
  }
}
