import { runInTrace } from '../shared/core/traceContext';

/**
 * Runs one timer tick in a trace of its own, so that what the tick logs and every message it sends
 * (a relayed push, a refresh's events) share one operation id, and the workers that receive those
 * messages continue it. Runs a tick starts keep their own run trace (traceContext.runTraceparent).
 */
export function inTimerTrace<T>(work: () => Promise<T>): Promise<T> {
  return runInTrace(undefined, work);
}
