import { randomUUID } from 'node:crypto';
import { isSyncBridgeError, type SyncBridgeErrorCode } from '../../shared/core/errors';
import type { ManualClock } from '../../shared/core/manualClock';
import type { Delivery } from '../../shared/ports/deliveryStore';

/**
 * What every conformance factory hands a suite: a store on a fresh (or safely shared) backend, the
 * clock the store reads when it has one the test can move, and a way to tear it down.
 */
export interface StoreFixture<S> {
  store: S;
  /** Present when the store's time can be moved; without it, suites wait in real time. */
  clock?: ManualClock;
  cleanup(): Promise<void>;
}

export type StoreFactory<S> = () => Promise<StoreFixture<S>>;

/**
 * Ids unique per test, so that suites also run against a backend shared between tests (a Cosmos
 * container, a Key Vault) without seeing each other's data.
 */
export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Moves the fixture's clock, or waits for real when the store runs on real time. */
export async function passTime(fixture: StoreFixture<unknown>, ms: number): Promise<void> {
  if (fixture.clock) fixture.clock.advance(ms);
  else await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Asserts that `action` fails with a SyncBridgeError of `code`, and returns it for more checks. */
export async function expectSyncBridgeError(action: Promise<unknown> | (() => Promise<unknown>), code: SyncBridgeErrorCode): Promise<Error> {
  let caught: unknown;
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (error) {
    caught = error;
  }
  if (caught === undefined) throw new Error(`Expected a SyncBridgeError('${code}'), but nothing was thrown.`);
  if (!isSyncBridgeError(caught, code)) {
    throw new Error(`Expected a SyncBridgeError('${code}'), got ${caught instanceof Error ? `${caught.name}(${(caught as { code?: string }).code ?? ''}): ${caught.message}` : String(caught)}`);
  }
  return caught;
}

/** The n-th sample delivery of a connection, received n seconds into 2026 (`received`, a customers.updated event). */
export function sampleDelivery(n: number, fields: Pick<Delivery, 'tenantId' | 'connectionId'> & Partial<Delivery>): Delivery {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();
  return {
    id: `${fields.connectionId}-dlv-${n}`,
    provider: 'sandbox',
    webhookId: `evt_${n}`,
    receivedAt: at,
    status: 'received',
    eventType: 'customers.updated',
    headers: { 'webhook-id': `evt_${n}` },
    body: JSON.stringify({ n, text: 'é ✓' }),
    replays: 0,
    updatedAt: at,
    ...fields,
  };
}
