import type { Run } from '../model';
import { markRunFailed } from './runFailure';
import { mutateRun, type EngineContext } from './engineContext';
import { RunService } from './runService';

export interface WatchdogResult {
  /** Runs whose next step was re-sent. */
  redriven: string[];
  /** Runs failed because their re-sends went nowhere. */
  failed: string[];
}

/**
 * When a running run's next step was due at the latest. Every write of a running run that sends
 * a step records the step's due time (nextStepDueAt: now, a rate-limit reset, a Retry-After);
 * any later write moves updatedAt, so the later of the two is when something last promised to
 * move the run. Runs stored before nextStepDueAt existed count from updatedAt.
 */
export function stepDueAt(run: Run): number {
  const updated = Date.parse(run.updatedAt);
  const due = run.nextStepDueAt ? Date.parse(run.nextStepDueAt) : Number.NEGATIVE_INFINITY;
  return Math.max(updated, due);
}

function isStalled(run: Run, now: number, graceMs: number): boolean {
  return run.state === 'running' && stepDueAt(run) + graceMs < now;
}

/**
 * Finds the tenants' running runs with nothing to move them (their step message was lost: a send
 * that reported success but never arrived, a crash between a checkpoint and its send, a dead
 * letter whose last-delivery handling failed) and re-sends their next step under a fresh message
 * id. A run is stalled only once its step is `stalledRunGraceMs` past due, so a run waiting for a
 * provider's Retry-After, or a step still at work, is left alone. A re-sent step that finds the
 * run moved on meanwhile is harmless: the step runner skips a page already applied and a closing
 * step of a finished run. After `maxRedrives` re-sends with no page applied between them, the run
 * fails with a reason that says so, which frees its tenant's slot and its connection.
 *
 * Every decision is compare-and-set on the run, re-checked on its fresh copy: a step that writes
 * the run meanwhile makes it no longer stalled, and the watchdog leaves it alone.
 */
export async function redriveStalledRuns(context: EngineContext, tenantIds: Iterable<string>): Promise<WatchdogResult> {
  const { platform } = context;
  const runs = new RunService(context);
  const result: WatchdogResult = { redriven: [], failed: [] };
  for (const tenantId of tenantIds) {
    for (const candidate of await platform.runs.listRunning(tenantId)) {
      const now = platform.clock.now();
      if (!isStalled(candidate, now.getTime(), context.stalledRunGraceMs)) continue;
      try {
        if ((candidate.redrives ?? 0) >= context.maxRedrives) {
          if (await failStalled(context, candidate, now)) result.failed.push(candidate.id);
        } else {
          let counted = false;
          const redriven = await mutateRun(context, candidate.id, (current) => {
            counted = isStalled(current, now.getTime(), context.stalledRunGraceMs);
            if (!counted) return undefined;
            current.redrives = (current.redrives ?? 0) + 1;
            current.nextStepDueAt = now.toISOString();
            current.updatedAt = now.toISOString();
            return current;
          });
          if (!redriven || !counted) continue; // it moved meanwhile
          platform.telemetry.log('warn', 'Run stalled: its next step was due long ago and never ran; re-sending it.', {
            runId: redriven.id, connectionId: redriven.connectionId, dueAt: new Date(stepDueAt(candidate)).toISOString(), redrive: redriven.redrives,
          });
          const progress = redriven.entities.find((e) => e.status !== 'done');
          await runs.enqueueNext(redriven, undefined, { attempt: progress?.attempts ?? 0, waits: 0, redrive: redriven.redrives });
          result.redriven.push(redriven.id);
        }
      } catch (error) {
        // A failed send leaves the run stalled with its re-drive counted: the next tick tries again.
        platform.telemetry.exception(error, { operation: 'runWatchdog', runId: candidate.id, tenantId });
      }
    }
  }
  return result;
}

/** Fails a run whose re-sent steps went nowhere; true when this call failed it. */
async function failStalled(context: EngineContext, stalled: Run, now: Date): Promise<boolean> {
  const { platform } = context;
  const stamp = now.toISOString();
  const reason = `The run stalled: its next step was due at ${new Date(stepDueAt(stalled)).toISOString()} and never ran, and ${stalled.redrives ?? 0} re-sent step(s) did not move it either (a lost queue message, or steps that fail before they write). Start a new run; if it recurs, look at the queue's dead letters and the telemetry under this run id.`;
  const failed = await mutateRun(context, stalled.id, (current) => {
    if (!isStalled(current, now.getTime(), context.stalledRunGraceMs) || (current.redrives ?? 0) < context.maxRedrives) return undefined;
    return markRunFailed(current, reason, stamp);
  });
  if (failed?.state !== 'failed' || failed.finishedAt !== stamp) return false;
  // As StepRunner.fail: the seen-sets go (no sweep will read them) and the tenant's slot is free.
  await platform.records.clearSeen(failed.id);
  platform.telemetry.event('RunFinished', { runId: failed.id, connectionId: failed.connectionId, state: 'failed', reason });
  await new RunService(context).promoteQueued(failed.tenantId);
  return true;
}
