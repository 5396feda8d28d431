import { XMLParser } from 'fast-xml-parser';
import type { JsonObject } from '../../core/model';
import { idOf, isObject, isoOrNull, type ParsedEvent, type ProviderEventInput, type RecordChange } from './types';

/** sObject types SyncBridge keeps, and the entity each becomes. */
const ENTITIES: Record<string, string> = { Account: 'accounts', Contact: 'contacts', Lead: 'leads', Opportunity: 'opportunities' };

const parser = new XMLParser({ removeNSPrefix: true, ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, processEntities: true, isArray: (name) => name === 'Notification' });

/**
 * Salesforce Outbound Messages (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_understanding.htm):
 * a SOAP `notifications` element with up to 100 `Notification`s, each carrying an `sObject` of
 * type `sf:<Type>` with the fields the workflow selected (`Id` always). Each becomes an upsert of
 * that record (fields as sent, `LastModifiedDate` as its time). Outbound Messages never announce
 * deletions.
 */
export function parseSalesforceOutboundMessage({ body }: ProviderEventInput): ParsedEvent {
  let document: unknown;
  try {
    document = parser.parse(body);
  } catch {
    return { ignored: 'The body is not XML.' };
  }
  const notifications = findNotifications(document);
  if (!notifications) return { ignored: 'Not a Salesforce Outbound Message.' };
  const changes: RecordChange[] = [];
  const skipped = new Set<string>();
  for (const notification of notifications) {
    const sObject = isObject(notification) && isObject(notification.sObject) ? notification.sObject : undefined;
    if (!sObject) continue;
    const type = String(sObject['@type'] ?? '').replace(/^.*:/, '');
    const entity = ENTITIES[type];
    if (!entity) {
      skipped.add(type || '(untyped)');
      continue;
    }
    const fields: JsonObject = {};
    for (const [key, value] of Object.entries(sObject)) if (!key.startsWith('@')) fields[key] = value as JsonObject[string];
    const id = idOf(fields.Id);
    if (id) changes.push({ entity, externalId: id, kind: 'upsert', data: fields, updatedAt: isoOrNull(fields.LastModifiedDate) });
  }
  return changes.length > 0 ? { changes } : { ignored: `No sObject SyncBridge keeps (${[...skipped].join(', ') || 'none'}).` };
}

function findNotifications(document: unknown): unknown[] | undefined {
  const envelope = isObject(document) ? document.Envelope : undefined;
  const soapBody = isObject(envelope) ? envelope.Body : undefined;
  const notifications = isObject(soapBody) ? soapBody.notifications : undefined;
  return isObject(notifications) && Array.isArray(notifications.Notification) ? notifications.Notification : undefined;
}
