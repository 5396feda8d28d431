import { SandboxEntity } from '../entities';
import { SeededRandom, hashIntegers, hashString } from '../random';
import { NOTE_WORDS } from './vocabulary';

/** A record as the provider API serves it: `id`, entity fields, then the two timestamps. */
export interface SandboxRecord {
  id: string;
  created_at: string;
  updated_at: string;
  [field: string]: unknown;
}

/** What a generator needs besides the record's own random stream. */
export interface GenerationContext {
  /** The data seed, already folded to 32 bits. */
  seed: number;
  /** How many seeded records every entity has; references (customer_id, …) point below it. */
  seededCount: number;
}

/**
 * One entity's data. `build` makes the record without its timestamps (id first, so the served
 * field order is stable) from the record's own random stream; `update` changes a few fields in
 * place, the way a user editing the record in the provider's UI would, and returns the names of
 * the changed fields.
 */
export interface EntityRecordSpec {
  build(random: SeededRandom, context: GenerationContext, index: number): { id: string; [field: string]: unknown };
  update(record: SandboxRecord, random: SeededRandom): string[];
}

/** A sentence-like run of filler words of about `length` characters. */
export function filler(random: SeededRandom, length: number): string {
  let text = '';
  while (text.length < length) text += (text ? ' ' : '') + random.pick(NOTE_WORDS);
  return text.charAt(0).toUpperCase() + text.slice(1) + '.';
}

export function digits(random: SeededRandom, count: number): string {
  return random.chars('0123456789', count);
}

/**
 * The random stream of one record, derived from (seed, entity, index) alone, so that any record
 * can be rebuilt on its own without generating the ones before it.
 */
export function recordRandom(context: GenerationContext, entity: SandboxEntity, index: number): SeededRandom {
  return new SeededRandom(hashIntegers(context.seed, hashString(entity), index));
}
