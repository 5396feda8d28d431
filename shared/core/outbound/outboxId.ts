import { hash } from 'node:crypto';

/**
 * The outbox entry of one record version. It is also the queue message id (the broker drops a
 * second send) and the provider's Idempotency-Key (the provider answers a repeated push with the
 * first result), so one change is written once however often it is delivered.
 */
export function outboxId(recordId: string, version: number): string {
  return `out_${hash('sha256', `${recordId}\u0000${version}`, 'base64url').slice(0, 32)}`;
}
