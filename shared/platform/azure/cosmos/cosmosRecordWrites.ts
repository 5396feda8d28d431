import type { Container, JSONObject, OperationInput, PartitionKey } from '@azure/cosmos';
import { SyncBridgeError, isSyncBridgeError } from '../../../core/errors';
import type { RecordWrite } from '../../../ports/recordStore';
import { executeBatch } from './cosmosCalls';
import { toRecordDoc } from './cosmosRecordDocs';
import type { RequestCharges } from './requestCharges';

/** The batch operations of a record write, the compare-and-set ones apart (see recordWriteOperations). */
export interface RecordOperations {
  /** Replace If-Match the revision read (the `_etag`), or Create where none may exist. */
  conditional: OperationInput[];
  /** Upserts of the records written without a condition. */
  upserts: OperationInput[];
}

/**
 * The operations that write `records` (RecordWrite.ifRevision decides which kind). A caller puts
 * the conditional ones first in its batch: Cosmos DB applies a batch all or nothing anyway, but the
 * loopback test server applies the operations one by one until one fails, and with the conditions
 * first it writes nothing there either when one of them does not hold.
 */
export function recordWriteOperations(records: readonly RecordWrite[]): RecordOperations {
  const operations: RecordOperations = { conditional: [], upserts: [] };
  for (const record of records) {
    const resourceBody = toRecordDoc(record) as unknown as JSONObject;
    if (record.ifRevision === undefined) operations.upserts.push({ operationType: 'Upsert', resourceBody } as OperationInput);
    else if (record.ifRevision === null) operations.conditional.push({ operationType: 'Create', resourceBody } as OperationInput);
    else operations.conditional.push({ operationType: 'Replace', id: record.id, ifMatch: record.ifRevision, resourceBody } as OperationInput);
  }
  return operations;
}

/**
 * One transactional batch with compare-and-set operations. A condition that does not hold is a
 * `conflict` (412 for a changed document, 409 for one that should not exist), and so is a Replace
 * that finds its document gone (404): either way the record is not the one that was read.
 */
export async function executeConditionalBatch(container: Container, charges: RequestCharges, operation: string, partitionKey: PartitionKey, operations: OperationInput[]): Promise<void> {
  try {
    await executeBatch(container, charges, operation, partitionKey, operations);
  } catch (error) {
    if (isSyncBridgeError(error, 'not_found')) throw new SyncBridgeError('conflict', `${operation}: a record was removed since it was read (404)`, { cause: error, status: 404 });
    throw error;
  }
}
