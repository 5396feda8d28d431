import type { IsoTime } from '../core/model';
import type { Delivery } from './deliveryStore';
import type { OutgoingMessage } from './queue';

/** One verified webhook delivery: the key that de-duplicates it, its log row and its inbound message. */
export interface IntakeEntry {
  claimKey: string;
  delivery: Delivery;
  message: OutgoingMessage;
}

/**
 * accepted: durably taken (it will be logged and enqueued, or already is); duplicate: an earlier
 * delivery with this key was taken; in_progress: an earlier delivery with this key is being taken
 * right now and may still fail, so the sender should try again shortly (503).
 */
export type IntakeOutcome = 'accepted' | 'duplicate' | 'in_progress';

/**
 * Where the webhook receiver hands a verified delivery (docs/webhook-intake.md).
 *
 * Semantics (tests/conformance/deliveryIntake.conformance.ts):
 * - `accepted` is answered only once the delivery is durable: after it, the delivery reaches the
 *   delivery log and is handed on once, in the order accepted within a connection, even if the
 *   process is killed right after the answer. Handed on: logged `received` with a message for it
 *   on `sync-inbound` (its own `webhook` message, or a `webhook-batch` of its connection's
 *   deliveries), or — where the intake applies deliveries itself, the local journal's drain on
 *   the applier thread (journalApply.ts) — applied, and logged with its outcome.
 * - A key accepted before (within the dedupe window) is a `duplicate`, however many deliveries
 *   with it arrive at once: exactly one of them is accepted.
 * - A failure to store is thrown; nothing of the delivery is taken, and a retry may be accepted.
 *
 * Two implementations: IntakeGroupCommit (core; claims, log row and message on the platform's
 * own stores and queue: Cosmos DB and Service Bus on Azure) and the local platform's journal
 * (shared/platform/local/journalIntake.ts), which appends to a file and leaves the claims, log
 * rows and messages to a drain on the thread that applies them.
 */
export interface DeliveryIntake {
  write(entry: IntakeEntry): Promise<IntakeOutcome>;
  /**
   * True when the delivery ids this intake takes may begin with the time of receipt
   * (`orderedDeliveryIdFor`) rather than be derived from the provider's delivery id alone
   * (`deliveryIdFor`). Only an intake that never takes a delivery's claim, log row and message
   * apart may: the local journal, whose frame carries the id it was given (a drain tried again, or
   * read again after a crash, sees the same id), and whose log's id index then grows at its end
   * instead of at a random page per delivery. A group commit on separate stores (Cosmos DB and
   * Service Bus) must not: a retry after a partial write finds the row and the message by their
   * derived ids.
   */
  readonly ordersDeliveryIds?: boolean;
  /**
   * After `write(entry)` answered `duplicate`: the id the earlier delivery with the entry's key was
   * logged with (for the duplicate's answer), or undefined when this intake does not know it (a
   * claim from before claims held their delivery's id); the receiver then names the derived id,
   * which is the one every delivery taken before ordered ids has.
   */
  deliveryIdOf?(entry: IntakeEntry): string | undefined;
  /**
   * Counts `count` refused deliveries of a connection in webhook health (the receiver's
   * RejectionTally, once per connection per turn), where the intake keeps a durable log of its
   * own to carry them: the local journal, so that the receiving thread writes no store for a
   * refusal (a flood of forgeries would otherwise wait for the applier thread's write lock on the
   * thread that answers). Without it the receiver writes health itself.
   */
  recordRejections?(connectionId: string, count: number, at: IsoTime, detail: string): Promise<void>;
}
