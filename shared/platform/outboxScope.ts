import { SyncBridgeError } from '../core/errors';
import type { OutboxEntry } from '../ports/outboxStore';
import type { RecordWrite } from '../ports/recordStore';

/**
 * OutboxStore.commitLocalChange: the entry, its record and the records written alongside belong
 * to one connection and entity (on Cosmos DB, one partition, so that one batch holds them all).
 */
export function assertSameScope(record: RecordWrite, entry: OutboxEntry, alongside: readonly RecordWrite[]): void {
  for (const r of [record, ...alongside]) {
    if (r.tenantId !== entry.tenantId || r.connectionId !== entry.connectionId || r.entity !== entry.entity) {
      throw new SyncBridgeError('internal', 'An outbox entry and the records committed with it must belong to one connection and entity.');
    }
  }
}
