import { SandboxEntity } from '../entities';
import { SEED_EPOCH_SECONDS, formatSecond, seededUpdatedSecond } from '../timeline';
import { customerSpec } from './customers';
import { inventorySpec } from './inventory';
import { orderSpec } from './orders';
import { paymentSpec } from './payments';
import { EntityRecordSpec, GenerationContext, SandboxRecord, recordRandom } from './recordTypes';
import { productSpec } from './products';

export const ENTITY_SPECS: Record<SandboxEntity, EntityRecordSpec> = {
  customers: customerSpec,
  products: productSpec,
  orders: orderSpec,
  inventory: inventorySpec,
  payments: paymentSpec,
};

/**
 * Builds a record from its index. With `stampedSecond` the record is new (created by a
 * mutation): created_at and updated_at are that second. Without it the record is a seeded one:
 * updated_at comes from the seeded timeline and created_at lies somewhere between the epoch and it.
 */
export function buildRecord(context: GenerationContext, entity: SandboxEntity, index: number, stampedSecond?: number): SandboxRecord {
  const random = recordRandom(context, entity, index);
  // Built as one literal and extended in place: spreading into a new object costs more than the
  // rest of the generation, and a page builds a thousand of these.
  const record = ENTITY_SPECS[entity].build(random, context, index) as SandboxRecord;
  let createdSecond: number;
  let updatedSecond: number;
  if (stampedSecond === undefined) {
    updatedSecond = seededUpdatedSecond(index);
    createdSecond = SEED_EPOCH_SECONDS + Math.floor(random.next() * (updatedSecond - SEED_EPOCH_SECONDS + 1));
  } else {
    updatedSecond = stampedSecond;
    createdSecond = stampedSecond;
  }
  record.created_at = formatSecond(createdSecond);
  record.updated_at = formatSecond(updatedSecond);
  return record;
}
