import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../shared/platform/local/database';
import { SqliteQueue } from '../../shared/platform/local/sqliteQueue';
import { enableTurnCommit } from '../../shared/platform/local/turnCommit';
import type { QueueName } from '../../shared/ports/queue';
import { queueConformance, type DrainedMessage } from './queue.conformance';

// Twice: on a handle that commits each write, and on one that commits per event-loop turn, as the
// local platform runs it (turnCommit.ts).
for (const mode of ['per write', 'per turn'] as const) queueConformance(`SqliteQueue (commit ${mode})`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncbridge-queue-conformance-'));
  const db = openDatabase(join(dir, 'queue.db'));
  if (mode === 'per turn') enableTurnCommit(db);
  const queue = new SqliteQueue(db);

  /** Receives like the local host does: every free session in turn, then messages without a session. */
  async function drain(name: QueueName): Promise<DrainedMessage[]> {
    const drained: DrainedMessage[] = [];
    for (let session = queue.acceptSession(name); session !== undefined; session = queue.acceptSession(name)) {
      for (let message = queue.receiveFromSession(session); message !== undefined; message = queue.receiveFromSession(session)) {
        drained.push(message);
        queue.complete(message.lockToken);
      }
      queue.releaseSession(session);
    }
    for (let message = queue.receive(name); message !== undefined; message = queue.receive(name)) {
      drained.push(message);
      queue.complete(message.lockToken);
    }
    return drained;
  }

  return {
    sender: queue,
    drain,
    cleanup: async () => {
      queue.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
