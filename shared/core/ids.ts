import { hash, randomUUID } from 'node:crypto';

/**
 * Deterministic ids: things are keyed by what they are (DESIGN.md §4), so a message or a write
 * applied twice lands on the same key.
 */

function digest(parts: readonly string[]): string {
  // A separator that cannot occur inside a part keeps ('a|b','c') and ('a','b|c') apart.
  return hash('sha256', parts.map((p) => p.replace(/\u0000/g, '')).join('\u0000'), 'base64url');
}

/** Record id from (tenant, connection, entity, externalId). */
export function recordId(tenantId: string, connectionId: string, entity: string, externalId: string): string {
  return digest([tenantId, connectionId, entity, externalId]).slice(0, 32);
}

/** The id of one pipeline step: one page of one entity of one run. */
export function stepId(runId: string, entity: string, page: number): string {
  return `${runId}:${entity}:${page}`;
}

/** The id of the step that closes a run (deletion sweep and final state). */
export function finalizeStepId(runId: string): string {
  return `${runId}:finalize`;
}

export function newRunId(): string {
  return `run_${randomUUID().replace(/-/g, '')}`;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '')}`;
}
