import { emptyCounters, type Run, type RunCounters, type RunPauser } from '../model';

export interface RunView {
  runId: string;
  connectionId: string;
  kind: Run['kind'];
  trigger: Run['trigger'];
  state: Run['state'];
  /**
   * Who holds the run: on a paused run `operator` or `connection` (its connection's pause), on a
   * queued run `connection` when its connection's pause keeps it from starting; null otherwise.
   */
  pausedBy: RunPauser | null;
  counters: RunCounters;
  entities: Array<Pick<Run['entities'][number], 'entity' | 'status' | 'cursor' | 'pages' | 'since' | 'highWater' | 'total' | 'counters' | 'lastError'>>;
  /** Share of the known total fetched so far, 0..1; null while no entity reported a total. */
  progress: number | null;
  /** Estimated finish time from the rate so far; null when unknown or finished. */
  eta: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  lastError: string | null;
}

/** The API's view of a run: totals, progress and an ETA computed from the counters. */
export function toRunView(run: Run, now: Date): RunView {
  const counters = emptyCounters();
  let total = 0;
  let fetchedOfKnown = 0;
  let unknown = false;
  for (const p of run.entities) {
    for (const key of Object.keys(counters) as Array<keyof RunCounters>) counters[key] += p.counters[key];
    if (p.status === 'done') {
      total += p.counters.fetched;
      fetchedOfKnown += p.counters.fetched;
    } else if (p.total !== null) {
      total += Math.max(p.total, p.counters.fetched);
      fetchedOfKnown += p.counters.fetched;
    } else {
      unknown = true;
    }
  }
  const finished = run.finishedAt != null;
  let progress: number | null = null;
  if (finished) progress = 1;
  else if (total > 0 && !unknown) progress = Math.min(1, fetchedOfKnown / total);
  else if (run.entities.every((p) => p.status === 'done')) progress = 1;
  let eta: string | null = null;
  if (!finished && run.state === 'running' && progress !== null && progress > 0 && progress < 1 && run.startedAt) {
    const elapsed = now.getTime() - Date.parse(run.startedAt);
    eta = new Date(now.getTime() + (elapsed * (1 - progress)) / progress).toISOString();
  }
  return {
    runId: run.id,
    connectionId: run.connectionId,
    kind: run.kind,
    trigger: run.trigger,
    state: run.state,
    pausedBy: run.state === 'paused' ? (run.pausedBy ?? 'operator') : run.state === 'queued' ? (run.pausedBy ?? null) : null,
    counters,
    entities: run.entities.map(({ entity, status, cursor, pages, since, highWater, total: t, counters: c, lastError }) => ({
      entity, status, cursor, pages, since, highWater, total: t, counters: c, lastError: lastError ?? null,
    })),
    progress,
    eta,
    createdAt: run.createdAt,
    startedAt: run.startedAt ?? null,
    finishedAt: run.finishedAt ?? null,
    lastError: run.lastError ?? null,
  };
}
