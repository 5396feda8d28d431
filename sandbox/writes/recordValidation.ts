import { SandboxDataset } from '../dataset';
import { SandboxEntity, recordId } from '../entities';

/** One problem with one field of a write, as the 422 body lists it. */
export interface FieldError {
  field: string;
  code: 'required' | 'invalid' | 'read_only' | 'not_found' | 'taken';
  message: string;
}

/** create (POST) and replace (PUT) need every required field; patch checks only the fields it sends. */
export type WriteMode = 'create' | 'replace' | 'patch';

interface FieldRule {
  field: string;
  required?: boolean;
  /** A sentence naming the problem, or undefined when the value is fine. */
  check(value: unknown, dataset: SandboxDataset): { code: FieldError['code']; message: string } | undefined;
}

/** The sandbox owns identity and time; `deleted` is what tombstones carry, and deletes go through DELETE. */
const READ_ONLY_FIELDS = ['id', 'created_at', 'updated_at', 'deleted'];

const invalid = (message: string) => ({ code: 'invalid' as const, message });

const email: FieldRule = {
  field: 'email',
  required: true,
  check: (value) => (typeof value === 'string' && /^[^@\s]+@[^@\s]+$/.test(value) ? undefined : invalid("Field 'email' must be a string like name@example.com.")),
};

const currency: FieldRule = {
  field: 'currency',
  check: (value) => (typeof value === 'string' && /^[A-Z]{3}$/.test(value) ? undefined : invalid("Field 'currency' must be a three-letter ISO 4217 code such as EUR.")),
};

function amount(field: string): FieldRule {
  return { field, check: (value) => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? undefined : invalid(`Field '${field}' must be a number of at least 0.`)) };
}

function count(field: string): FieldRule {
  return { field, check: (value) => (Number.isSafeInteger(value) && (value as number) >= 0 ? undefined : invalid(`Field '${field}' must be an integer of at least 0.`)) };
}

/** A reference must name a live record of `target`, as a provider with foreign keys insists. */
function reference(field: string, target: SandboxEntity, required = false): FieldRule {
  return {
    field,
    required,
    check(value, dataset) {
      if (typeof value !== 'string') return invalid(`Field '${field}' must be the id of a ${target} record.`);
      if (!dataset.store(target).get(value)) return { code: 'not_found', message: `Field '${field}' names no live ${target} record: '${value}'.` };
      return undefined;
    },
  };
}

/** Rules per entity: enough to turn bad pushes into 422s, not a full schema. */
const RULES: Record<SandboxEntity, FieldRule[]> = {
  customers: [email, currency],
  products: [amount('price'), currency, { field: 'title', check: (value) => (typeof value === 'string' && value.trim() !== '' ? undefined : invalid("Field 'title' must be a non-empty string.")) }],
  orders: [reference('customer_id', 'customers', true), currency, amount('total')],
  inventory: [reference('product_id', 'products'), count('quantity_on_hand'), count('quantity_reserved')],
  payments: [reference('order_id', 'orders'), amount('amount'), currency],
};

/**
 * Every problem with the fields of a write, in rule order; empty when the write may go ahead.
 * `selfId` is the record a PUT or PATCH writes, which may keep its own email.
 */
export function validateRecordFields(dataset: SandboxDataset, entity: SandboxEntity, fields: Record<string, unknown>, mode: WriteMode, selfId?: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const field of READ_ONLY_FIELDS) {
    if (field in fields) errors.push({ field, code: 'read_only', message: `Field '${field}' is assigned by the provider and cannot be written.` });
  }
  for (const rule of RULES[entity]) {
    if (!(rule.field in fields)) {
      if (rule.required && mode !== 'patch') errors.push({ field: rule.field, code: 'required', message: `Field '${rule.field}' is required.` });
      continue;
    }
    const problem = rule.check(fields[rule.field], dataset);
    if (problem) errors.push({ field: rule.field, ...problem });
  }
  if (entity === 'customers' && typeof fields.email === 'string' && errors.length === 0) {
    const holder = customerWithEmail(dataset, fields.email);
    if (holder !== undefined && holder !== selfId) {
      errors.push({ field: 'email', code: 'taken', message: `Field 'email' is already used by customer '${holder}'; emails are unique, as shop providers insist.` });
    }
  }
  return errors;
}

/**
 * The live customer holding `email` (case-insensitive), without scanning the seeded records:
 * a seeded email carries its record's number (`ada.chen.17@…`), so only that record can hold it
 * unchanged; every other holder is in the overlay of changed records.
 */
function customerWithEmail(dataset: SandboxDataset, email: string): string | undefined {
  const wanted = email.toLowerCase();
  const store = dataset.store('customers');
  const number = /\.(\d+)@/.exec(wanted)?.[1];
  if (number !== undefined) {
    const index = Number(number) - 1;
    if (store.isUntouchedSeeded(index)) {
      const seeded = store.get(recordId('customers', index));
      if (typeof seeded?.email === 'string' && seeded.email.toLowerCase() === wanted) return seeded.id;
    }
  }
  for (const record of store.changedLiveRecords()) {
    if (typeof record.email === 'string' && record.email.toLowerCase() === wanted) return record.id;
  }
  return undefined;
}
