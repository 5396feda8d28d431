/**
 * The entities the sandbox serves and how their ids look. An id is a prefix plus the record's
 * zero-padded 1-based index (`cus_0000001`), so id order equals index order and a seeded
 * listing sorted by index is also sorted by id.
 */

export const SANDBOX_ENTITIES = ['customers', 'products', 'orders', 'inventory', 'payments'] as const;

export type SandboxEntity = (typeof SANDBOX_ENTITIES)[number];

const ID_PREFIXES: Record<SandboxEntity, string> = {
  customers: 'cus',
  products: 'prd',
  orders: 'ord',
  inventory: 'inv',
  payments: 'pay',
};

/** Seven digits keep ids fixed-width (and so string-sortable) up to 9,999,999 records per entity. */
export const ID_DIGITS = 7;
export const MAX_RECORD_INDEX = 10 ** ID_DIGITS - 2;

export function isSandboxEntity(value: string): value is SandboxEntity {
  return (SANDBOX_ENTITIES as readonly string[]).includes(value);
}

export function recordId(entity: SandboxEntity, index: number): string {
  return `${ID_PREFIXES[entity]}_${String(index + 1).padStart(ID_DIGITS, '0')}`;
}

/** The 0-based index behind an id of this entity, or undefined when the id is not one of ours. */
export function parseRecordId(entity: SandboxEntity, id: string): number | undefined {
  const prefix = `${ID_PREFIXES[entity]}_`;
  if (!id.startsWith(prefix)) return undefined;
  const digits = id.slice(prefix.length);
  if (digits.length !== ID_DIGITS || !/^\d+$/.test(digits)) return undefined;
  const index = Number(digits) - 1;
  return index >= 0 ? index : undefined;
}
