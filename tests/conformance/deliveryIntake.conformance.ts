import { intakeEntryOf } from '../../shared/core/webhookIntake/intakeEntry';
import type { DeliveryIntake, IntakeEntry, IntakeOutcome } from '../../shared/ports/deliveryIntake';
import type { Delivery, DeliveryStatus } from '../../shared/ports/deliveryStore';
import { QUEUES } from '../../shared/ports/queue';
import type { ReceivedMessage, SqliteQueue } from '../../shared/platform/local/sqliteQueue';
import { uniqueId } from './fixtures';

export interface DeliveryIntakeSubject {
  intake: DeliveryIntake;
  /** Resolves once what was accepted so far is in the delivery log and handed on (drains finished, turns committed). */
  settle(): Promise<void>;
  /** The delivery log's row for this id. */
  delivery(id: string): Promise<Delivery | undefined>;
  /** Receives and completes every `sync-inbound` message deliverable now (as the host's receiver would). */
  receiveInbound(): Promise<ReceivedMessage[]>;
  /**
   * Where the intake applies deliveries itself instead of enqueuing them (the local journal
   * drain's direct apply): the ids it applied since the last call, in order, and the status it
   * settles the test's deliveries with (their connection does not exist: `ignored`).
   */
  direct?: { applied(): string[]; settledStatus: DeliveryStatus };
  /**
   * Makes the intake's store fail (the queue's send, the journal's write) until the returned
   * function repairs it. Present only where the factory says `storeFailure: true`.
   */
  breakStore?(): () => Promise<void>;
  cleanup(): Promise<void>;
}

export interface DeliveryIntakeConformanceOptions {
  /** Whether the subject can be made to fail to store (breakStore); the case is skipped otherwise, with this reason. */
  storeFailure: true | { skipBecause: string };
}

/** The deliveries the messages carry, in order: a `webhook` message's one, a `webhook-batch` message's several. */
export function deliveryIdsOf(messages: readonly ReceivedMessage[]): string[] {
  return messages.flatMap((m) => {
    const body = m.body as { kind: string; deliveryId?: string; deliveryIds?: string[] };
    return body.kind === 'webhook-batch' ? body.deliveryIds ?? [] : [body.deliveryId ?? ''];
  });
}

/** Receives like the local host: every free session in turn, then messages without one; completes each. */
export function receiveAll(queue: SqliteQueue, name: string = QUEUES.inbound): ReceivedMessage[] {
  const received: ReceivedMessage[] = [];
  for (let session = queue.acceptSession(name); session !== undefined; session = queue.acceptSession(name)) {
    for (let message = queue.receiveFromSession(session); message !== undefined; message = queue.receiveFromSession(session)) {
      received.push(message);
      queue.complete(message.lockToken);
    }
    queue.releaseSession(session);
  }
  for (let message = queue.receive(name); message !== undefined; message = queue.receive(name)) {
    received.push(message);
    queue.complete(message.lockToken);
  }
  return received;
}

/**
 * A verified delivery as the webhook receiver builds it (shared/core/webhookIntake/receiver.ts):
 * claim key `webhook:<connection>:<webhook id>`, a deterministic delivery id and message id, the
 * connection as the message's session. `variant` changes what a retry of the same delivery may
 * carry differently (its receipt time and body), never its ids.
 */
export function intakeEntry(connectionId: string, webhookId: string, variant = 0): IntakeEntry {
  return intakeEntryOf({
    deliveryId: `dlv_${connectionId}_${webhookId}`,
    tenantId: 'tenant-intake',
    connectionId,
    provider: 'sandbox',
    webhookId,
    receivedAt: new Date(Date.UTC(2025, 0, 1, 12, 0, variant)).toISOString(),
    eventType: 'customers.updated',
    headers: { 'webhook-id': webhookId, 'content-type': 'application/json' },
    body: JSON.stringify({ id: webhookId, type: 'customers.updated', attempt: variant, data: { entity: 'customers', record: { id: 'cus_1', name: 'Zoë ✓' } } }),
  });
}

/**
 * The DeliveryIntake port's semantics (shared/ports/deliveryIntake.ts), run against the group
 * commit on the local and the Cosmos DB platform and against the local platform's journal, drained
 * into messages or applied by its drain (deliveryIntake.local.test.ts, deliveryIntake.cosmos.test.ts). The subjects' queues keep no
 * duplicate detection, so that a message sent twice is seen twice: the intake's own
 * de-duplication is what is tested, not the broker's.
 */
export function deliveryIntakeConformance(name: string, factory: () => Promise<DeliveryIntakeSubject>, options: DeliveryIntakeConformanceOptions): void {
  describe(`DeliveryIntake conformance: ${name}`, () => {
    let subject: DeliveryIntakeSubject;
    let connectionId: string;

    beforeEach(async () => {
      subject = await factory();
      connectionId = uniqueId('conn-intake');
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    const entry = (webhookId: string, variant = 0) => intakeEntry(connectionId, webhookId, variant);
    /** This test's messages on sync-inbound, received and completed. */
    const inbound = async () => (await subject.receiveInbound()).filter((m) => m.sessionId === connectionId);
    /** The deliveries handed on since the last call, in order: enqueued (their messages received and completed), or applied by the intake. */
    const handedOn = async () => [...deliveryIdsOf(await inbound()), ...(subject.direct?.applied() ?? [])];
    /** The delivery log's row of an accepted delivery, once settled: as written, or as the intake's own apply settled it. */
    const logged = (delivery: Delivery) =>
      subject.direct ? { ...delivery, status: subject.direct.settledStatus, detail: expect.any(String), updatedAt: expect.any(String) } : delivery;
    const settledStatus = () => subject.direct?.settledStatus ?? 'received';
    const count = (outcomes: IntakeOutcome[], outcome: IntakeOutcome) => outcomes.filter((o) => o === outcome).length;

    it('accepts a delivery: once settled it is in the delivery log, and handed on once (its one message on sync-inbound, or applied by the intake)', async () => {
      const e = entry('msg_1');
      expect(await subject.intake.write(e)).toBe('accepted');
      await subject.settle();
      expect(await subject.delivery(e.delivery.id)).toEqual(logged(e.delivery));
      const messages = await inbound();
      expect([...deliveryIdsOf(messages), ...(subject.direct?.applied() ?? [])]).toEqual([e.delivery.id]);
      for (const message of messages) {
        expect(message).toMatchObject({ messageId: e.message.messageId, sessionId: connectionId, body: e.message.body, applicationProperties: e.message.applicationProperties });
        expect(message.body).toEqual({ kind: 'webhook', connectionId, deliveryId: e.delivery.id });
      }
      expect(await handedOn()).toEqual([]);
    });

    it('answers a later delivery of an accepted key "duplicate", before and after it settled, and takes nothing of it', async () => {
      const first = entry('msg_dup');
      expect(await subject.intake.write(first)).toBe('accepted');
      expect(await subject.intake.write(entry('msg_dup', 1))).toBe('duplicate');
      await subject.settle();
      expect(await subject.intake.write(entry('msg_dup', 2))).toBe('duplicate');
      await subject.settle();
      // The log keeps the first delivery, not a retry's receipt time or body.
      expect(await subject.delivery(first.delivery.id)).toEqual(logged(first.delivery));
      expect(await handedOn()).toEqual([first.delivery.id]);
      // Once it was handed on (its message received and completed), too.
      expect(await subject.intake.write(entry('msg_dup', 3))).toBe('duplicate');
      await subject.settle();
      expect(await handedOn()).toEqual([]);
    });

    it('accepts exactly one of many deliveries of one key that arrive at once', async () => {
      const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => subject.intake.write(entry('msg_burst', i))));
      expect(count(outcomes, 'accepted')).toBe(1);
      expect(count(outcomes, 'duplicate')).toBe(11);
      await subject.settle();
      expect(await subject.delivery(entry('msg_burst').delivery.id)).toMatchObject({ status: settledStatus() });
      expect(await handedOn()).toEqual([entry('msg_burst').delivery.id]);
    });

    it('accepts exactly one of many deliveries of one key spread over several turns', async () => {
      const writes: Array<Promise<IntakeOutcome>> = [];
      for (let turn = 0; turn < 6; turn += 1) {
        writes.push(subject.intake.write(entry('msg_spread', turn * 2)), subject.intake.write(entry('msg_spread', turn * 2 + 1)));
        await new Promise<void>((done) => setImmediate(done));
      }
      const outcomes = await Promise.all(writes);
      expect(count(outcomes, 'accepted')).toBe(1);
      // The others: duplicates, or told to come back while the first one is still being stored.
      expect(count(outcomes, 'duplicate') + count(outcomes, 'in_progress')).toBe(11);
      await subject.settle();
      expect(await handedOn()).toEqual([entry('msg_spread').delivery.id]);
    });

    it('accepts distinct deliveries written together, each logged and handed on once', async () => {
      const entries = Array.from({ length: 30 }, (_, i) => entry(`msg_many_${i}`));
      expect(await Promise.all(entries.map((e) => subject.intake.write(e)))).toEqual(entries.map(() => 'accepted'));
      await subject.settle();
      for (const e of entries) expect(await subject.delivery(e.delivery.id)).toEqual(logged(e.delivery));
      const messages = await inbound();
      for (const m of messages) if ((m.body as { kind: string }).kind === 'webhook') expect(m.body).toEqual(entries.find((e) => e.message.messageId === m.messageId)?.message.body);
      // One session: each delivery handed on once (in its own message, its connection's batch, or applied), in the order they were written.
      expect([...deliveryIdsOf(messages), ...(subject.direct?.applied() ?? [])]).toEqual(entries.map((e) => e.delivery.id));
    });

    const storeFailureCase = options.storeFailure === true ? it : it.skip;
    const skipNote = options.storeFailure === true ? '' : ` (skipped: ${options.storeFailure.skipBecause})`;
    storeFailureCase(`throws a failure to store, enqueues nothing for it, and accepts a retry${skipNote}`, async () => {
      const failing = entry('msg_fail');
      const bystander = entry('msg_fail_other');
      const repair = subject.breakStore!();
      const attempts = await Promise.allSettled([subject.intake.write(failing), subject.intake.write(bystander)]);
      expect(attempts.map((a) => a.status)).toEqual(['rejected', 'rejected']);
      await repair();
      await subject.settle();
      expect(await handedOn()).toEqual([]);
      // Not a duplicate: nothing of it was taken.
      expect(await subject.intake.write(entry('msg_fail', 1))).toBe('accepted');
      expect(await subject.intake.write(bystander)).toBe('accepted');
      await subject.settle();
      expect(await subject.delivery(failing.delivery.id)).toMatchObject({ id: failing.delivery.id, status: settledStatus() });
      expect(await handedOn()).toEqual([failing.delivery.id, bystander.delivery.id]);
      expect(await subject.intake.write(entry('msg_fail', 2))).toBe('duplicate');
    });
  });
}
