import type { Run } from '../model';

/**
 * The change that fails a run, made inside a compare-and-set (mutateRun) by whoever decided it
 * (the step runner, the watchdog): the run and its first unfinished entity take the reason.
 */
export function markRunFailed(run: Run, reason: string, now: string): Run {
  run.state = 'failed';
  run.lastError = reason;
  run.finishedAt = now;
  run.updatedAt = now;
  const unfinished = run.entities.find((e) => e.status !== 'done');
  if (unfinished) {
    unfinished.status = 'failed';
    unfinished.lastError = reason;
  }
  return run;
}
