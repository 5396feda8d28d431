import type { JsonObject } from '../../core/model';

/**
 * What one provider webhook means for SyncBridge's records: changes to apply, or why it was
 * ignored (acknowledged and logged, never an error the provider would retry).
 */
export type RecordChange =
  /** The event carries the record's state: stored as is. */
  | { entity: string; externalId: string; kind: 'upsert'; data: JsonObject; updatedAt: string | null }
  /** The record is gone at the provider: tombstoned. */
  | { entity: string; externalId: string; kind: 'delete'; updatedAt: string | null }
  /** The event names a record but carries no state: fetch it from the provider. */
  | { entity: string; externalId: string; kind: 'fetch' };

export type ParsedEvent = { changes: RecordChange[] } | { ignored: string };

export interface ProviderEventInput {
  /** The delivery's kept headers (event type, topic, …), case-insensitive. */
  headers: Headers;
  /** The raw body as received (UTF-8). */
  body: string;
}

export type ProviderEventParser = (input: ProviderEventInput) => ParsedEvent;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function idOf(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Unix seconds (Stripe, Slack) as ISO time; null when absent. */
export function fromUnixSeconds(value: unknown): string | null {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? new Date(n * 1000).toISOString() : null;
}

export function isoOrNull(value: unknown): string | null {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? value : null;
}

export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}
