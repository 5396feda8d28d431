import type { SessionStep, SessionStepResult, SqliteQueue } from '../shared/platform/local/sqliteQueue';

interface Pending {
  step: SessionStep;
  done: (result: SessionStepResult) => void;
  fail: (error: unknown) => void;
}

/**
 * Collects the session steps asked for in one event-loop turn and runs them in one transaction
 * (SqliteQueue.stepSessions) at the end of the turn. When a webhook batch wakes fifty sessions, or
 * fifty handlers finish in the same turn, their completions and next locks cost one commit instead
 * of fifty: every commit writes each page it touched to the WAL, and the queue's hot index pages
 * are shared by all sessions. A step waits at most until the turn ends.
 */
export class SessionStepBatch {
  private pending: Pending[] = [];

  constructor(private readonly queue: SqliteQueue) {}

  run(step: SessionStep): Promise<SessionStepResult> {
    return new Promise((done, fail) => {
      if (this.pending.push({ step, done, fail }) === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    let results: SessionStepResult[];
    try {
      results = this.queue.stepSessions(batch.map((p) => p.step));
    } catch (error) {
      // The transaction failed as a whole (database error): nothing moved; each session ends.
      for (const p of batch) p.fail(error);
      return;
    }
    batch.forEach((p, i) => p.done(results[i]));
  }
}
