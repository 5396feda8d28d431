import type { Container, FeedOptions, OperationInput, PartitionKey, SqlParameter } from '@azure/cosmos';
import { assertTransactionFits } from './cosmosBatchLimits';
import { cosmosStatus, toSyncBridgeError } from './cosmosErrors';
import type { RequestCharges } from './requestCharges';

/** Cosmos system properties, never part of a domain object. */
const SYSTEM_FIELDS = ['_rid', '_self', '_etag', '_attachments', '_ts', '_lsn'] as const;

export function withoutSystemFields<T extends object>(doc: T): T {
  const copy = { ...doc } as Record<string, unknown>;
  for (const field of SYSTEM_FIELDS) delete copy[field];
  return copy as T;
}

/**
 * Runs a query to the end and adds its request charge under `operation`. With `partitionKey` it is
 * a single-partition query; without, the SDK fans it out (used only off the hot path).
 */
export async function queryAll<T>(
  container: Container,
  charges: RequestCharges,
  operation: string,
  query: string,
  parameters: SqlParameter[] = [],
  partitionKey?: PartitionKey,
): Promise<T[]> {
  const options: FeedOptions = partitionKey === undefined ? {} : { partitionKey };
  const scoped = partitionKey === undefined ? { query, parameters } : withPartitionFilter(query, parameters, partitionKey);
  try {
    const response = await container.items.query<T>(scoped, options).fetchAll();
    charges.add(operation, response.requestCharge);
    return response.resources;
  } catch (error) {
    throw toSyncBridgeError(error, operation);
  }
}

/**
 * The partition key repeated as a filter. Cosmos DB routes by the key alone and the filter costs
 * nothing there; the loopback test server ignores the key in queries, so without the filter tests
 * would see other tenants' documents.
 */
function withPartitionFilter(query: string, parameters: SqlParameter[], partitionKey: PartitionKey): { query: string; parameters: SqlParameter[] } {
  const [tenantId, connectionId] = (Array.isArray(partitionKey) ? partitionKey : [partitionKey]) as [string, string?];
  const where = query.indexOf(' WHERE ');
  if (where < 0) throw new Error(`A partition-scoped query needs a WHERE clause: ${query}`);
  const filter = connectionId === undefined ? 'c.tenantId = @pkTenantId AND ' : 'c.tenantId = @pkTenantId AND c.connectionId = @pkConnectionId AND ';
  return {
    query: `${query.slice(0, where + 7)}${filter}${query.slice(where + 7)}`,
    parameters: [...parameters, { name: '@pkTenantId', value: tenantId }, ...(connectionId === undefined ? [] : [{ name: '@pkConnectionId', value: connectionId }])],
  };
}

/** A point read; undefined when the document does not exist. */
export async function readItem<T extends object>(container: Container, charges: RequestCharges, operation: string, id: string, partitionKey: PartitionKey): Promise<(T & { _etag: string }) | undefined> {
  try {
    const response = await container.item(id, partitionKey).read<T & { _etag: string }>();
    charges.add(operation, response.requestCharge);
    return response.statusCode === 404 ? undefined : response.resource;
  } catch (error) {
    if (cosmosStatus(error) === 404) return undefined;
    throw toSyncBridgeError(error, operation);
  }
}

/**
 * One transactional batch (≤ 100 operations and 2 MB, one partition key): all or nothing in
 * Cosmos DB. A batch over the limits is refused before it is sent (cosmosBatchLimits.ts): the
 * loopback test server would accept it, the service would not. Throws the first failed
 * operation's status as a SyncBridgeError (409/412 → conflict).
 */
export async function executeBatch(container: Container, charges: RequestCharges, operation: string, partitionKey: PartitionKey, operations: OperationInput[]): Promise<void> {
  if (operations.length === 0) return;
  assertTransactionFits(operations, partitionKey, operation);
  // Each operation names its partition key too: Cosmos accepts it (it must match), and the loopback
  // test server needs it.
  const inputs = operations.map((op) => ({ ...op, partitionKey }) as OperationInput);
  let response;
  try {
    response = await container.items.batch(inputs, partitionKey);
  } catch (error) {
    throw toSyncBridgeError(error, operation);
  }
  const results = response.result ?? [];
  charges.add(operation, results.reduce((sum, r) => sum + (r.requestCharge ?? 0), 0) || undefined);
  const failed = results.find((r) => r.statusCode >= 400 && r.statusCode !== 424);
  if (failed) {
    const said = (failed.resourceBody as { message?: unknown } | undefined)?.message;
    const substatus = (failed as { substatus?: number }).substatus;
    throw toSyncBridgeError({ code: failed.statusCode, substatus, message: `batch operation ${results.indexOf(failed)} failed with ${failed.statusCode}${typeof said === 'string' ? `: ${said}` : ''}` }, operation);
  }
  if (response.code !== undefined && response.code >= 400) throw toSyncBridgeError({ code: response.code, substatus: response.substatus, message: `batch failed with ${response.code}` }, operation);
}
