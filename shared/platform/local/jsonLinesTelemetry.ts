import { MASK, maskProperties, maskText } from '../../core/masking';
import { SECRET_VALUES_FULL_WARNING, SecretValueRegistry, type SecretValueRegistryOptions } from '../../core/secretValueRegistry';
import { currentTrace } from '../../core/traceContext';
import { SyncBridgeError, textOfThrown } from '../../core/errors';
import { systemClock, type Clock } from '../../ports/clock';
import type { DependencyTelemetry, LogLevel, Telemetry, TelemetryProperties } from '../../ports/telemetry';

/**
 * Anything lines can be written to: process.stdout, a file stream, a test's collector. When a
 * callback is given, the sink calls it once the chunk is written (as Node streams do).
 */
export interface TelemetrySink {
  write(chunk: string, callback?: (error?: Error | null) => void): unknown;
}

/** secretValueRetentionMs and maxSecretValues bound the registered secret values (ports/telemetry.ts). */
export interface JsonLinesTelemetryOptions extends Omit<SecretValueRegistryOptions, 'clock'> {
  /** Where lines go. Default process.stdout. */
  sink?: TelemetrySink;
  /** Lowest level written; events, metrics and dependencies count as info. Default 'info'. */
  level?: LogLevel;
  /** Stamps each line's `time` and times the retention of secret values. Default the system clock. */
  clock?: Clock;
  /** flush() gives up waiting for a stuck sink after this long. Default 5,000 ms. */
  flushTimeoutMs?: number;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

type Line = { time: string; type: string; level: LogLevel } & Record<string, unknown>;

/**
 * Telemetry as JSON lines: one object per line with `time`, `type` (log, event, metric,
 * exception, dependency) and `level`, for a developer's terminal or a log file that tools can
 * grep and parse.
 *
 * Before a line leaves the process, properties with secret-looking keys become "***" and every
 * value registered with registerSecretValue() is masked wherever it appears (messages, names,
 * stacks, property values), within the port's bounds on how long and how many values are kept
 * (ports/telemetry.ts). Telemetry must never take the product down, so no method throws: a failure
 * to format or write a line drops that line.
 */
export class JsonLinesTelemetry implements Telemetry {
  private readonly sink: TelemetrySink;
  private readonly minRank: number;
  private readonly clock: Clock;
  private readonly flushTimeoutMs: number;
  private readonly secretValues: SecretValueRegistry;
  private warnedSecretValuesFull = false;

  constructor(options: JsonLinesTelemetryOptions = {}) {
    this.sink = options.sink ?? process.stdout;
    const level = options.level ?? 'info';
    this.minRank = LEVEL_RANK[level];
    this.clock = options.clock ?? systemClock;
    this.flushTimeoutMs = options.flushTimeoutMs ?? 5000;
    if (!(this.flushTimeoutMs >= 0)) throw new SyncBridgeError('configuration', `flushTimeoutMs must be zero or more, got ${options.flushTimeoutMs}.`);
    if (LEVEL_RANK[level] === undefined) throw new SyncBridgeError('configuration', `level must be one of debug, info, warn, error; got ${String(level)}.`);
    this.secretValues = new SecretValueRegistry({ ...options, clock: this.clock });
    // A stream reports write failures (EPIPE, a full disk) as 'error' events; unheard, those would
    // crash the process. Listening turns them into dropped lines.
    const emitter = this.sink as { on?: (event: string, listener: () => void) => unknown; listenerCount?: (event: string) => number };
    if (typeof emitter.on === 'function' && (emitter.listenerCount?.('error') ?? 0) === 0) emitter.on('error', () => undefined);
  }

  /** Masks `value` in every later line. Use it for secrets that have no tell-tale key (tokens in URLs, keys in messages). */
  registerSecretValue(value: string): void {
    try {
      if (!this.secretValues.register(value) || this.warnedSecretValuesFull) return;
      this.warnedSecretValuesFull = true;
      this.log('warn', SECRET_VALUES_FULL_WARNING);
    } catch {
      // never into the caller
    }
  }

  maskSecretValues(text: string): string {
    try {
      return maskText(text, this.secretValues);
    } catch {
      return MASK; // withheld rather than shown unmasked
    }
  }

  log(level: LogLevel, message: string, properties?: TelemetryProperties): void {
    const known = LEVEL_RANK[level] === undefined ? 'info' : level;
    this.emit(known, () => ({ ...this.head('log', known), message, ...this.props(properties) }));
  }

  event(name: string, properties?: TelemetryProperties, measurements?: Record<string, number>): void {
    this.emit('info', () => ({ ...this.head('event', 'info'), name, ...this.props(properties), ...(measurements ? { measurements: { ...measurements } } : {}) }));
  }

  metric(name: string, value: number, properties?: TelemetryProperties): void {
    this.emit('info', () => ({ ...this.head('metric', 'info'), name, value, ...this.props(properties) }));
  }

  exception(error: unknown, properties?: TelemetryProperties): void {
    this.emit('error', () => {
      const described = describeError(error);
      return { ...this.head('exception', 'error'), ...described, ...this.props(properties) };
    });
  }

  dependency(dependency: DependencyTelemetry): void {
    const level = dependency.success ? 'info' : 'warn';
    this.emit(level, () => ({
      ...this.head('dependency', level),
      dependencyType: dependency.type,
      target: dependency.target,
      name: dependency.name,
      durationMs: dependency.durationMs,
      success: dependency.success,
      ...(dependency.resultCode !== undefined ? { resultCode: dependency.resultCode } : {}),
      ...this.props(dependency.properties),
    }));
  }

  /**
   * Resolves once every line written so far has reached the sink's destination, or after
   * flushTimeoutMs when the sink is stuck; never rejects.
   */
  async flush(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.flushTimeoutMs);
        timer.unref();
        // Streams run write callbacks in order, so an empty write's callback means all before it are done.
        this.sink.write('', () => resolve());
      });
    } catch {
      // a broken sink has nothing left to flush
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every line carries the trace it was emitted in (shared/core/traceContext.ts), when there is one. */
  private head(type: string, level: LogLevel): Line {
    const trace = currentTrace();
    return { time: this.clock.now().toISOString(), type, level, ...(trace ? { traceId: trace.traceId, spanId: trace.spanId } : {}) };
  }

  private props(properties: TelemetryProperties | undefined): { properties?: TelemetryProperties } {
    return properties && Object.keys(properties).length > 0 ? { properties: { ...properties } } : {};
  }

  /** Lines below the level are never built: a metric per webhook costs nothing at level 'warn'. */
  private emit(level: LogLevel, build: () => Line): void {
    if (LEVEL_RANK[level] < this.minRank) return;
    try {
      const line = build();
      this.sink.write(`${JSON.stringify(this.mask(line))}\n`);
    } catch {
      // Dropped: telemetry never throws into the caller (ports/telemetry.ts).
    }
  }

  /** Masks the line as a whole: secret-named properties, then registered values in every string. */
  private mask(line: Line): Line {
    const masked: Line = { ...line };
    for (const [key, value] of Object.entries(line)) {
      if (key === 'properties' && value && typeof value === 'object') {
        masked.properties = maskProperties(value as Record<string, unknown>, this.secretValues);
      } else if (typeof value === 'string' && key !== 'time' && key !== 'type' && key !== 'level') {
        masked[key] = maskText(value, this.secretValues);
      }
    }
    return masked;
  }
}

/** The parts of a thrown value worth logging; secrets in them are masked by the caller. */
function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      errorName: error.name,
      message: error.message,
      ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
      ...(error.stack ? { stack: error.stack } : {}),
      ...(error.cause !== undefined ? { cause: error.cause instanceof Error ? `${error.cause.name}: ${error.cause.message}` : textOfThrown(error.cause) } : {}),
    };
  }
  return { errorName: 'NonError', message: textOfThrown(error) };
}
