import type { Connection, ConnectionStatus } from '../model';

/**
 * Connection states in which pushes wait instead of going out. Each needs a person — to connect
 * again (`reauthorization_required`, docs/oauth.md §4) or to resume the connection (`paused`) —
 * and until then every attempt would fail the same way: a push made then would use up its retries
 * or become an `auth_error` dead letter that nothing sends again after the person acted.
 * `error` is not among them: nothing sets it yet, so nothing could say when it ends.
 */
const HOLDING_STATES: ReadonlySet<ConnectionStatus> = new Set<ConnectionStatus>(['reauthorization_required', 'paused']);

/**
 * How long a held push waits before the worker looks at its connection again, by default:
 * one queue message per held push per five minutes, and no provider call, while the connection
 * stays parked; at most this long between a reconnect and the push.
 */
export const DEFAULT_HELD_RECHECK_MS = 300_000;

/** Whether the connection's pushes wait for a person (see HOLDING_STATES). */
export function holdsPushes(connection: Pick<Connection, 'status'>): boolean {
  return HOLDING_STATES.has(connection.status);
}

/** What a held entry's `lastError` says: what it waits for, and what ends the wait. */
export function heldReason(connection: Pick<Connection, 'id' | 'status'>): string {
  if (connection.status === 'paused') {
    return `Waiting for connection ${connection.id} to be resumed: it is paused. The push goes out once the connection is active again.`;
  }
  return `Waiting for reauthorization: connection ${connection.id} must be connected again (the provider refused its authorization). The push goes out once the connection is active again.`;
}
