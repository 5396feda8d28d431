import type { z } from 'zod';
import { SyncBridgeError } from '../../shared/core/errors';
import { readingBody } from './readBodyWithin';

/** Parses a request part with a zod schema; the error names the first bad field. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
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
