import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomFillSync } from 'node:crypto';

/**
 * W3C trace context (https://www.w3.org/TR/trace-context/) carried across the queue hops of a run:
 * the message that starts a step carries `traceparent`, the worker runs the step inside that trace
 * (as a child span), and every message it sends carries the trace on. Telemetry stamps the current
 * trace on what it emits, so one run is one trace end to end (operation id in Application Insights).
 * Platform-neutral: no OpenTelemetry dependency here; the Azure telemetry maps it onto OTel.
 */
export interface TraceContext {
  traceId: string; // 32 lowercase hex, not all zero
  spanId: string; // 16 lowercase hex, not all zero
  sampled: boolean;
}

const storage = new AsyncLocalStorage<TraceContext>();
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function parseTraceparent(value: unknown): TraceContext | undefined {
  if (typeof value !== 'string') return undefined;
  const match = TRACEPARENT.exec(value.trim());
  if (!match || match[1] === 'ff' || /^0+$/.test(match[2]) || /^0+$/.test(match[3])) return undefined;
  return { traceId: match[2], spanId: match[3], sampled: (parseInt(match[4], 16) & 1) === 1 };
}

export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.sampled ? '01' : '00'}`;
}

/**
 * Random hex drawn from a pool refilled 4 KB at a time: one randomBytes call per id cost ~3 % of a
 * webhook receipt. Ids are still cryptographically random (the pool is crypto randomBytes).
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomHex(bytes: number): string {
  for (;;) {
    if (poolOffset + bytes > pool.length) {
      randomFillSync(pool);
      poolOffset = 0;
    }
    const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
    poolOffset += bytes;
    if (!/^0+$/.test(hex)) return hex; // all-zero ids are invalid in W3C trace context
  }
}

function newSpanId(): string {
  return randomHex(8);
}

/** A new trace (no parent). */
export function newTrace(): TraceContext {
  return { traceId: randomHex(16), spanId: newSpanId(), sampled: true };
}

/**
 * Runs `work` in a child span of `parent` (a traceparent string or a context), or in a new trace
 * when there is none or it is malformed.
 */
export function runInTrace<T>(parent: string | TraceContext | undefined, work: () => T): T {
  const from = typeof parent === 'string' ? parseTraceparent(parent) : parent;
  const context = from ? { traceId: from.traceId, spanId: newSpanId(), sampled: from.sampled } : newTrace();
  const scope = traceScope;
  return storage.run(context, scope ? () => scope(context, work) : work);
}

/**
 * Enters a SyncBridge span in a tracing system of the platform's as well, so that what that system
 * records by itself inside the span (an instrumented SDK's calls) is parented to it.
 */
export type TraceScope = <T>(context: TraceContext, work: () => T) => T;

let traceScope: TraceScope | undefined;

/**
 * Sets the scope every `runInTrace` also enters (undefined: none). The Application Insights
 * telemetry sets one that makes the span OpenTelemetry's active span; core stays free of it.
 */
export function useTraceScope(scope: TraceScope | undefined): void {
  traceScope = scope;
}

/**
 * The trace of a run: its trace id is derived from the run id, so every step of the run, whoever
 * enqueues it (a worker, a resume, a retry after a crash), is in the same trace. Inside that trace
 * the current span is the parent; elsewhere a new span of the run's trace is.
 */
export function runTraceparent(runId: string): string {
  const traceId = createHash('sha256').update(`syncbridge-run:${runId}`).digest('hex').slice(0, 32);
  const current = storage.getStore();
  const spanId = current?.traceId === traceId ? current.spanId : newSpanId();
  return formatTraceparent({ traceId, spanId, sampled: current?.traceId === traceId ? current.sampled : true });
}

export function currentTrace(): TraceContext | undefined {
  return storage.getStore();
}

/** The traceparent to send onward: the current span as parent of whatever the receiver does. */
export function currentTraceparent(): string | undefined {
  const context = storage.getStore();
  return context ? formatTraceparent(context) : undefined;
}
