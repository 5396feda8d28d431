import type { ProviderRecord } from '../adapters/adapter';

/** Structural checks every record must pass before it may touch the store. */
export function validateProviderRecord(record: ProviderRecord): string[] {
  const reasons: string[] = [];
  if (record.invalid) return [record.invalid];
  if (typeof record.externalId !== 'string' || record.externalId.trim() === '') reasons.push('The record has no id.');
  else if (record.externalId.length > 512) reasons.push('The record id is longer than 512 characters.');
  if (record.data === null || typeof record.data !== 'object' || Array.isArray(record.data)) reasons.push('The record is not a JSON object.');
  if (record.updatedAt !== null && Number.isNaN(Date.parse(record.updatedAt))) reasons.push(`The update time "${record.updatedAt}" is not a date.`);
  return reasons;
}
