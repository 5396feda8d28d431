import { createHash, randomUUID } from 'node:crypto';
import type { HttpResponseInit } from '@azure/functions';
import { SyncBridgeError } from '../../shared/core/errors';
import { canonicalJson } from '../../shared/core/hash';
import type { RecordScope } from '../../shared/core/model';
import type { Platform } from '../../shared/ports/platform';
import { errorResponse, json } from '../http/responses';

/** How long a key answers repeats with its first result, from its first use. Stripe's window too. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * How long a first attempt counts as in flight: a repeat within it is told to come back (409);
 * after it, with no answer stored, the first attempt is taken to have died and the repeat runs in
 * its place (with the same local id, so a create it did commit is found, not made again).
 */
export const IN_FLIGHT_MS = 60_000;

/** Stripe's limit; long enough for a UUID or a caller's own composite key. */
const MAX_KEY_LENGTH = 255;

/**
 * What the idempotency store keeps under a key: the request's fingerprint, the local id a create
 * under the key uses, and how far the request got. `failed`: it threw; a repeat runs again at once.
 */
type KeyState = { fingerprint: string; localId: string; startedAt: number } & (
  | { state: 'started' }
  | { state: 'failed' }
  | { state: 'done'; status: number; body: unknown }
);

export interface IdempotentWrite {
  platform: Platform;
  /** The value of the request's Idempotency-Key header, or null without one. */
  header: string | null;
  /** Keys are per tenant, connection and entity: two tenants (or connections) may use the same key. */
  scope: RecordScope;
  /** What makes two requests "the same" (method, record, body); a repeat must match it. */
  request: unknown;
  /** The write itself; `localId` is the id a create under this key must use. Its answer is kept. */
  run(localId: string | undefined): Promise<HttpResponseInit>;
}

/**
 * Runs an admin write at most once per Idempotency-Key (as Stripe's API does): a repeat of the
 * same request gets the first answer again (status and body, with `idempotent-replayed: true`),
 * a repeat with a different request is refused (422), and one that arrives while the first is in
 * flight is told to retry (409 with Retry-After). Without the header, `run` runs as before.
 *
 * The key store and the record store are separate, so the key cannot commit with the record.
 * What closes that gap is the local id: it is chosen once and stored with the key before the
 * write runs, and a create commits only if nothing is stored under it (LocalChangeService.create).
 * A crash after the record's commit but before the answer is stored is then harmless for a
 * create: the repeat that takes over finds the record. A PATCH that takes over applies its fields
 * again (the same values: harmless unless another write changed those fields in between); a
 * DELETE that takes over finds the record deleted and answers 404.
 */
export async function idempotentWrite(write: IdempotentWrite): Promise<HttpResponseInit> {
  if (write.header === null) return write.run(undefined);
  checkKey(write.header);
  const { idempotency, clock, telemetry } = write.platform;
  const key = `admin-write:${JSON.stringify([write.scope.tenantId, write.scope.connectionId, write.scope.entity, write.header])}`;
  const fingerprint = createHash('sha256').update(canonicalJson(write.request)).digest('hex');
  const now = clock.now().getTime();

  // The claim is short (IN_FLIGHT_MS): a holder that dies before storing its state frees the key soon.
  const claim = await idempotency.claim(key, IN_FLIGHT_MS);
  let state: KeyState;
  if (claim.claimed) {
    state = { state: 'started', fingerprint, localId: randomUUID(), startedAt: now };
    try {
      await idempotency.complete(key, state, { ttlMs: IDEMPOTENCY_KEY_TTL_MS });
    } catch (error) {
      await idempotency.release(key).catch(() => undefined);
      throw error;
    }
  } else {
    const held = claim.result as KeyState | undefined;
    if (held === undefined || (held.state === 'started' && now - held.startedAt < IN_FLIGHT_MS)) {
      if (held !== undefined && held.fingerprint !== fingerprint) return reused();
      return errorResponse(409, 'in_progress', 'An earlier request with this Idempotency-Key is still being processed; retry shortly.', { 'retry-after': '1' });
    }
    if (held.fingerprint !== fingerprint) return reused();
    if (held.state === 'done') return json(held.status, held.body, { 'idempotent-replayed': 'true' });
    state = held; // the first attempt failed or died without an answer: run in its place, with its local id
  }

  let response: HttpResponseInit;
  try {
    response = await write.run(state.localId);
  } catch (error) {
    // Kept, not released: the write may have committed before it failed (a store that committed
    // but whose answer was lost), and a repeat must use the same local id to find it.
    await idempotency.complete(key, { ...state, state: 'failed' }).catch(() => undefined);
    throw error;
  }
  const done: KeyState = { fingerprint, localId: state.localId, startedAt: state.startedAt, state: 'done', status: response.status ?? 200, body: response.jsonBody };
  // The answer's window runs from the key's first use, as the caller's retries do.
  const ttlMs = Math.max(1, state.startedAt + IDEMPOTENCY_KEY_TTL_MS - clock.now().getTime());
  await idempotency.complete(key, done, { ttlMs }).catch((error: unknown) => {
    // The write is done; only the replay of its answer is lost. A repeat then runs again (see above).
    telemetry.log('warn', 'An admin write succeeded, but its Idempotency-Key answer could not be stored.', { reason: (error as Error).message });
  });
  return response;
}

function checkKey(header: string): void {
  if (header.length === 0 || header.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(header)) {
    throw new SyncBridgeError('validation', `The Idempotency-Key header must be 1 to ${MAX_KEY_LENGTH} printable ASCII characters without spaces.`);
  }
}

function reused(): HttpResponseInit {
  return errorResponse(422, 'idempotency_key_reused', 'This Idempotency-Key was used for a different request (another method, record or body); use a new key for a new request.');
}
