import { mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { IntakeGroupCommit } from '../../shared/core/webhookIntake/groupCommit';
import { JournalIntake } from '../../shared/platform/local/journalIntake';
import { createLocalPlatform, startJournalDrain, type LocalPlatform, type LocalPlatformOptions } from '../../shared/platform/local/localPlatform';
import type { ApplyTaken } from '../../shared/platform/local/journalApply';
import { createServices } from '../../shared/composition';
import { webhookIntakeFor } from '../../shared/core/webhookIntake';
import { whenDurable } from '../../shared/platform/local/turnCommit';
import { JournalAppender } from '../../shared/platform/local/webhookJournal';
import { deliveryIntakeConformance, intakeEntry, receiveAll, type DeliveryIntakeSubject } from './deliveryIntake.conformance';

/**
 * The DeliveryIntake suite on the local platform (a fresh data folder per test): the group commit
 * on its SQLite stores, the journal with the platform's in-process drain, and the journal on
 * one-frame segments, drained into messages or applied by its drain.
 */
const DAY_MS = 24 * 3600_000;

function localPlatform(extra: Partial<LocalPlatformOptions> = {}): { platform: LocalPlatform; dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-intake-conformance-'));
  // No duplicate detection on the queue: a message the intake sent twice must be seen twice.
  const platform = createLocalPlatform({ dataDir, telemetrySink: new PassThrough().resume(), checkpointIntervalMs: 0, queue: { duplicateDetectionWindowMs: 0 }, ...extra });
  return { platform, dataDir };
}

/** Polls until the journal has nothing left to drain, then waits for the drain's commit. */
async function journalDrained(platform: LocalPlatform, journal: JournalIntake): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (journal.backlog > 0) {
    if (Date.now() > deadline) throw new Error(`The journal still holds ${journal.backlog} deliveries after 10 s.`);
    await new Promise((done) => setTimeout(done, 5));
  }
  await whenDurable(platform.db);
}

deliveryIntakeConformance('IntakeGroupCommit on the local platform', async () => {
  const { platform, dataDir } = localPlatform();
  let sendFails = false;
  // The platform with a queue whose send fails while the test says so.
  const flaky: LocalPlatform = Object.create(platform, {
    queue: {
      value: Object.assign(Object.create(platform.queue), {
        send: (...args: Parameters<LocalPlatform['queue']['send']>) => (sendFails ? Promise.reject(new Error('The queue is down.')) : platform.queue.send(...args)),
      }),
    },
  });
  const subject: DeliveryIntakeSubject = {
    intake: new IntakeGroupCommit(flaky, DAY_MS),
    settle: () => whenDurable(platform.db),
    delivery: (id) => platform.deliveries.get(id),
    receiveInbound: async () => receiveAll(platform.queue),
    breakStore: () => {
      sendFails = true;
      return async () => {
        sendFails = false;
      };
    },
    cleanup: async () => {
      await platform.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return subject;
}, { storeFailure: true });

deliveryIntakeConformance('the journal, drained in process (createLocalPlatform webhookJournal)', async () => {
  const { platform, dataDir } = localPlatform({ webhookJournal: { drain: 'in-process' } });
  const journal = platform.journal!;
  expect(platform.webhookIntake).toBe(journal);
  return {
    intake: journal,
    settle: () => journalDrained(platform, journal),
    delivery: (id) => platform.deliveries.get(id),
    receiveInbound: async () => receiveAll(platform.queue),
    cleanup: async () => {
      await platform.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}, { storeFailure: { skipBecause: 'its append goes to a 64 MiB segment opened at start; the one-segment-per-write journal below fails its writes' } });

/**
 * The journal on one-frame segments (a rotation at every write: where its write can be made to
 * fail), drained into messages, or applied by its drain as on the local host's applier thread
 * (`direct`: the real applier of the platform's services, its ids noted as it is given them).
 */
function oneFrameJournal(direct: boolean): () => Promise<DeliveryIntakeSubject> {
  return async () => {
    const { platform, dataDir } = localPlatform();
    const dir = join(dataDir, 'webhook-journal');
    const appender = new JournalAppender(dir, { segmentBytes: 1 });
    const journal = new JournalIntake(appender, platform.idempotency);
    let applied: string[] = [];
    const { applier } = webhookIntakeFor(createServices(platform));
    const apply: ApplyTaken = async (taken, log, batch) => {
      const result = await applier.applyTaken(taken, log, batch);
      const deferred = new Set(result.deferred.map((d) => d.id));
      applied.push(...taken.map((t) => t.delivery.id).filter((id) => !deferred.has(id)));
      return result;
    };
    const drain = startJournalDrain(platform, dir, (position) => journal.drained(position), direct ? apply : undefined);
    journal.setOnAppended(() => drain.wake());
    // A first frame (another connection's), so that every write of the test starts a new segment.
    await journal.write(intakeEntry('conn-warm-up', 'msg_0'));
    await journalDrained(platform, journal);
    applied = [];
    return {
      intake: journal,
      settle: () => journalDrained(platform, journal),
      delivery: (id) => platform.deliveries.get(id),
      receiveInbound: async () => receiveAll(platform.queue),
      ...(direct
        ? {
          direct: {
            applied: () => applied.splice(0),
            settledStatus: 'ignored' as const,
          },
        }
        : {}),
      // The next segment's name taken by a folder: the rotation before the next write fails (EISDIR).
      breakStore: () => {
        const next = join(dir, `${String(appender.position.segment + 1).padStart(10, '0')}.journal`);
        mkdirSync(next);
        return async () => rmdirSync(next);
      },
      cleanup: async () => {
        journal.close();
        await drain.stop();
        appender.close();
        await platform.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  };
}

deliveryIntakeConformance('the journal on one-frame segments, drained in process', oneFrameJournal(false), { storeFailure: true });

deliveryIntakeConformance('the journal on one-frame segments, applied by its drain (as on the applier thread)', oneFrameJournal(true), { storeFailure: true });
