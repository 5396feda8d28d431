import type { Container, ItemDefinition, PartitionKey, RequestOptions } from '@azure/cosmos';
import { cosmosStatus, toSyncBridgeError } from './cosmosErrors';
import type { RequestCharges } from './requestCharges';

/** Creates a document; false when one with its id exists in the partition (409). */
export async function createIfAbsent(container: Container, charges: RequestCharges, operation: string, doc: ItemDefinition): Promise<boolean> {
  try {
    const response = await container.items.create(doc);
    charges.add(operation, response.requestCharge);
    return true;
  } catch (error) {
    if (cosmosStatus(error) === 409) return false;
    throw toSyncBridgeError(error, operation);
  }
}

/**
 * Replaces a document only if it is unchanged since it was read (If-Match its `_etag`); false when
 * someone else changed (412) or removed (404) it first.
 */
export async function replaceIfMatch(container: Container, charges: RequestCharges, operation: string, doc: ItemDefinition, partitionKey: PartitionKey, etag: string): Promise<boolean> {
  const options: RequestOptions = { accessCondition: { type: 'IfMatch', condition: etag } };
  try {
    const response = await container.item(doc.id!, partitionKey).replace(doc, options);
    charges.add(operation, response.requestCharge);
    return true;
  } catch (error) {
    const status = cosmosStatus(error);
    if (status === 412 || status === 404) return false;
    throw toSyncBridgeError(error, operation);
  }
}

/** Deletes a document, If-Match its `_etag` when given; false when it was not there or changed. */
export async function deleteItem(container: Container, charges: RequestCharges, operation: string, id: string, partitionKey: PartitionKey, etag?: string): Promise<boolean> {
  try {
    const response = await container.item(id, partitionKey).delete(etag ? { accessCondition: { type: 'IfMatch', condition: etag } } : {});
    charges.add(operation, response.requestCharge);
    return true;
  } catch (error) {
    const status = cosmosStatus(error);
    if (status === 404 || status === 412) return false;
    throw toSyncBridgeError(error, operation);
  }
}
