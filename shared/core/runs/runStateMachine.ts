import type { RunState } from '../model';

/**
 * queued → running ⇄ paused → done | partial | failed | cancelled (DESIGN.md §5).
 * A queued run may be cancelled before it starts; finished runs never change again.
 */
const TRANSITIONS: Record<RunState, readonly RunState[]> = {
  queued: ['running', 'cancelled'],
  running: ['paused', 'done', 'partial', 'failed', 'cancelled'],
  paused: ['running', 'cancelled', 'failed'],
  done: [],
  partial: [],
  failed: [],
  cancelled: [],
};

export function canTransition(from: RunState, to: RunState): boolean {
  return TRANSITIONS[from].includes(to);
}
