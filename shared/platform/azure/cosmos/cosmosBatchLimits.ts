import { chunkBySize } from '../../../core/chunks';
import type { OperationInput, PartitionKey } from '@azure/cosmos';
import { SyncBridgeError } from '../../../core/errors';

/**
 * Cosmos DB's limits on what one request may carry (service quotas): a transactional batch holds
 * at most 100 operations and 2 MB of payload, and one item is at most 2 MB of JSON. The service
 * refuses more with 413; the loopback test server accepts anything, so these are checked here,
 * before the request goes out, where tests can see them.
 */
export const MAX_BATCH_OPERATIONS = 100;
/** What a split batch is filled to: room below the 2 MB limit for the SDK's encoding of the partition key. */
export const BATCH_BYTE_BUDGET = 1_800_000;
/** The largest batch payload sent at all (2 MB read as 10^6 bytes, under either reading of "MB"). */
export const MAX_BATCH_BYTES = 2_000_000;
/** The largest document written (the same 2 MB: an item alone in a batch must fit both). */
export const MAX_DOCUMENT_BYTES = 2_000_000;

/**
 * The bytes one operation adds to a batch's body, measured as the SDK sends it: the operations
 * array as JSON, each with its partition key as JSON text (Items.batch, bodyFromData).
 */
export function operationBytes(operation: OperationInput, partitionKey: PartitionKey): number {
  return Buffer.byteLength(JSON.stringify({ ...operation, partitionKey: JSON.stringify(partitionKey) }), 'utf8') + 1;
}

/** The document an operation writes, named for a person: a record by entity and external id. */
function describe(operation: OperationInput): string {
  const body = (operation as { resourceBody?: { id?: string; docType?: string; entity?: string; externalId?: string } }).resourceBody;
  if (body?.docType === 'record' && body.externalId !== undefined) return `Record ${body.entity}/${body.externalId}`;
  return `Document ${body?.id ?? (operation as { id?: string }).id ?? '(no id)'}`;
}

/**
 * Refuses a document Cosmos DB would refuse (`validation`, naming it): no batch can carry it, and
 * trying again cannot help.
 */
export function assertDocumentFits(operation: OperationInput, partitionKey: PartitionKey): number {
  const bytes = operationBytes(operation, partitionKey);
  if (bytes > MAX_DOCUMENT_BYTES) {
    throw new SyncBridgeError('validation', `${describe(operation)} is ${bytes} bytes as JSON; Cosmos DB stores at most ${MAX_DOCUMENT_BYTES} bytes per document.`);
  }
  return bytes;
}

/**
 * Operations that need not commit together, split into batches of at most MAX_BATCH_OPERATIONS
 * and BATCH_BYTE_BUDGET bytes (an operation larger than the budget, but within the document
 * limit, goes alone). Throws `validation` for a document too large to write at all.
 */
export function splitIntoBatches(operations: readonly OperationInput[], partitionKey: PartitionKey): OperationInput[][] {
  // overheadBytes: the array's brackets
  return chunkBySize(operations, (operation) => assertDocumentFits(operation, partitionKey), { maxCount: MAX_BATCH_OPERATIONS, maxBytes: BATCH_BYTE_BUDGET, overheadBytes: 2 });
}

/**
 * Checks a batch that must commit as one (a transaction): each document fits, and so does the
 * whole. A transaction larger than Cosmos DB allows is the caller's mistake (`internal`): the
 * record store's port tells callers how to split (MAX_CONDITIONAL_WRITE, MAX_CONDITIONAL_WRITE_BYTES).
 */
export function assertTransactionFits(operations: readonly OperationInput[], partitionKey: PartitionKey, what: string): void {
  let bytes = 0; // the operations alone: a single document at the limit is a batch at the limit
  for (const operation of operations) bytes += assertDocumentFits(operation, partitionKey);
  if (operations.length > MAX_BATCH_OPERATIONS || bytes > MAX_BATCH_BYTES) {
    throw new SyncBridgeError('internal', `${what}: a transaction of ${operations.length} operations and ${bytes} bytes is more than Cosmos DB commits at once (${MAX_BATCH_OPERATIONS} operations, ${MAX_BATCH_BYTES} bytes).`);
  }
}
