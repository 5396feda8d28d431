import type { Platform } from '../../ports/platform';
import { QUEUES } from '../../ports/queue';
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

/** Whether an entry's `lastError` is the hold text of this connection (either holding state). */
function isHeldFor(connectionId: string, lastError: string | null | undefined): boolean {
  if (!lastError) return false;
  return [...HOLDING_STATES].some((status) => lastError === heldReason({ id: connectionId, status }));
}

/** Held pushes sent at once per activation; more go out at their scheduled check (heldRecheckMs). */
export const RELEASE_LIMIT = 1000;

/**
 * Sends the held pushes of a connection that became active again (resumed, reconnected, its client
 * secret replaced) now, instead of at their next scheduled check, up to `heldRecheckMs` (5 min)
 * later. A held entry is pending with its check due later and its `lastError` saying it waits for
 * this connection; an entry waiting out a backoff or a provider's Retry-After is left alone.
 *
 * Nothing is written to the entry: each gets a message now, under an id of its own, that names the
 * check it was listed with (`dueAt` = its `nextAttemptAt`). The worker acts on a message only while
 * the entry is pending and notes that same due time (OutboundService.handle), so a message that
 * arrives after the entry moved on — pushed and parked by an overlapping release or its own check,
 * or waiting out a provider's Retry-After since — is skipped, never a second push or an early one.
 * If the send fails nothing is lost: the entry's scheduled check still comes. The worker checks
 * the connection again when the message arrives, so a connection parked again meanwhile holds it
 * again. Returns how many.
 */
export async function releaseHeldPushes(platform: Platform, connectionId: string): Promise<number> {
  const now = platform.clock.now();
  const nowIso = now.toISOString();
  const pending = await platform.outbox.listPending({ connectionId, limit: RELEASE_LIMIT });
  const held = pending.filter((entry) => entry.nextAttemptAt && entry.nextAttemptAt > nowIso && isHeldFor(connectionId, entry.lastError));
  if (held.length === 0) return 0;
  await platform.queue.send(
    QUEUES.outbound,
    held.map((entry) => ({ body: { outboxId: entry.id, dueAt: entry.nextAttemptAt! }, messageId: `${entry.id}.released${now.getTime()}`, sessionId: entry.connectionId })),
  );
  platform.telemetry.metric('PushesReleased', held.length, { connectionId });
  return held.length;
}

/**
 * releaseHeldPushes for a connection that was just activated, where the activation must stand
 * whatever happens here: a failure is logged, and the held pushes go out at their scheduled check.
 * Returns how many were sent now (0 after a failure).
 */
export async function releaseHeldPushesSoon(platform: Platform, connectionId: string): Promise<number> {
  try {
    return await releaseHeldPushes(platform, connectionId);
  } catch (error) {
    platform.telemetry.log('warn', 'Could not send the held pushes of a connection active again; they go out at their scheduled check.', { connectionId, reason: (error as Error).message });
    return 0;
  }
}
