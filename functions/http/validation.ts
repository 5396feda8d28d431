import { z } from 'zod';
import { firstRepeatedName, MAX_ENTITY_NAMES } from '../../shared/core/entityNames';
import { SyncBridgeError } from '../../shared/core/errors';
import { readingBody } from './readBodyWithin';

/**
 * How deep a request body may nest (an object or array inside another counts one level). Far
 * above any record a person writes; what it stops is a small body nested thousands deep, which
 * would overflow the stack in the recursive steps after parsing (content hash, JSON.stringify).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Parses a request part with a zod schema; the error names the first bad field. Every body the
 * API takes passes through here, so the nesting limit is checked here first.
 */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  assertDepthWithin(value, MAX_JSON_DEPTH, what);
  const result = schema.safeParse(value);
  if (result.success) {
    const dropped = droppedProtoKey(value, result.data, what);
    if (dropped !== undefined) throw new SyncBridgeError('validation', `${dropped}: "__proto__" cannot be used as a key here (it would be lost); rename it.`);
    return result.data;
  }
  const issue = result.error.issues[0];
  const field = issue.path.length > 0 ? issue.path.join('.') : what;
  throw new SyncBridgeError('validation', `${field}: ${issue.message}`);
}

/** Reads a JSON body; an empty body is `{}`, anything unparsable or cut off a 400. */
export async function readJsonBody(request: { text(): Promise<string> }): Promise<unknown> {
  const text = await readingBody(() => request.text());
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new SyncBridgeError('validation', 'The request body is not valid JSON.');
  }
}

/**
 * The path of the first own `"__proto__"` member of `input` that `output` (what the schema made
 * of it) lacks. JSON.parse keeps such a key as an own member, but zod builds its objects and
 * records by assignment, which drops it without an issue: a silent loss of the caller's data.
 * Parts the schema passed through untouched (`z.unknown()`, e.g. inside a record field) are the
 * same object on both sides and keep the key, so they are not walked. Recursion is bounded by
 * MAX_JSON_DEPTH, checked before.
 */
function droppedProtoKey(input: unknown, output: unknown, path: string): string | undefined {
  if (input === output || input === null || typeof input !== 'object' || output === null || typeof output !== 'object') return undefined;
  if (Object.hasOwn(input, '__proto__') && !Object.hasOwn(output, '__proto__')) return `${path}.__proto__`;
  for (const [key, member] of Object.entries(input)) {
    if (!Object.hasOwn(output, key)) continue;
    const dropped = droppedProtoKey(member, (output as Record<string, unknown>)[key], `${path}.${key}`);
    if (dropped !== undefined) return dropped;
  }
  return undefined;
}

/** Refuses a value nested deeper than `maxDepth` levels. Iterative, so the check itself cannot overflow. */
export function assertDepthWithin(value: unknown, maxDepth: number, what: string): void {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > maxDepth) throw new SyncBridgeError('validation', `${what}: nests deeper than ${maxDepth} levels of objects and arrays.`);
    for (const member of Object.values(current)) {
      if (member !== null && typeof member === 'object') stack.push([member, depth + 1]);
    }
  }
}

/**
 * A list of entity names for a request schema: at most MAX_ENTITY_NAMES, none repeated (the
 * services check the same, for callers that do not come through HTTP).
 */
export function entityNameList<T extends z.ZodTypeAny>(item: T, nameOf: (entry: z.infer<T>) => string) {
  return z
    .array(item)
    .min(1)
    .max(MAX_ENTITY_NAMES, `at most ${MAX_ENTITY_NAMES} entities are allowed.`)
    .superRefine((entries, context) => {
      const repeated = firstRepeatedName(entries.map(nameOf));
      if (repeated !== undefined) context.addIssue({ code: z.ZodIssueCode.custom, message: `"${repeated}" is named more than once.` });
    });
}
