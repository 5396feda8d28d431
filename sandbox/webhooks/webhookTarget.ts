import { SyncBridgeError } from '../../shared/core/errors';
import { SANDBOX_ENTITIES, SandboxEntity, isSandboxEntity } from '../entities';
import { decodeWebhookSecret } from './webhookSigning';

/** Where and how the sandbox delivers events to one receiver. */
export interface WebhookTargetSettings {
  url: string;
  /** HMAC keys, one per configured secret (several during rotation). */
  keys: Buffer[];
  /** Entities whose changes are sent; undefined: all. */
  entities?: SandboxEntity[];
  /** Entities whose events carry only `{ entity, id }`, so the receiver must fetch the record. */
  idOnlyEntities: SandboxEntity[];
  /** Share (0..1) of successful deliveries sent a second time, as at-least-once senders do. */
  duplicateRate: number;
  /** Attempts per event before it is given up (logged as failed); default 5. */
  maxAttempts: number;
  /** Wait before the first retry, doubled per attempt; default 1000. */
  initialRetryMs: number;
  /** Longest wait between attempts; default 30,000. */
  maxRetryMs: number;
  /** An attempt that has not answered by then counts as failed; default 5000. */
  timeoutMs: number;
}

const FIELDS = ['url', 'secret', 'secrets', 'entities', 'idOnlyEntities', 'duplicateRate', 'maxAttempts', 'initialRetryMs', 'maxRetryMs', 'timeoutMs'];

/** Reads a POST /_sandbox/webhooks body; a bad field is a validation error naming it. */
export function parseWebhookTarget(body: Record<string, unknown>): WebhookTargetSettings {
  const unknown = Object.keys(body).find((name) => !FIELDS.includes(name));
  if (unknown) throw invalid(unknown, `is not a webhook setting; expected ${FIELDS.join(', ')}`);
  const url = body.url;
  if (typeof url !== 'string' || !isHttpUrl(url)) throw invalid('url', 'must be an absolute http(s) URL');
  if (body.secret !== undefined && body.secrets !== undefined) throw invalid('secrets', "cannot be combined with 'secret'; list every secret in 'secrets'");
  const secrets = body.secrets ?? (body.secret === undefined ? undefined : [body.secret]);
  if (!Array.isArray(secrets) || secrets.length === 0 || secrets.length > 5) throw invalid(body.secrets === undefined ? 'secret' : 'secrets', 'is required: one whsec_<base64> secret, or up to five in secrets');
  const keys = secrets.map((secret) => (typeof secret === 'string' ? decodeWebhookSecret(secret) : undefined));
  if (keys.some((key) => key === undefined)) throw invalid(body.secrets === undefined ? 'secret' : 'secrets', 'must be whsec_ followed by the base64 of 16 to 256 random bytes');
  const entities = body.entities === undefined ? undefined : entityList('entities', body.entities);
  return {
    url,
    keys: keys as Buffer[],
    entities,
    idOnlyEntities: body.idOnlyEntities === undefined ? [] : entityList('idOnlyEntities', body.idOnlyEntities),
    duplicateRate: share('duplicateRate', body.duplicateRate ?? 0),
    maxAttempts: integer('maxAttempts', body.maxAttempts ?? 5, 1, 20),
    initialRetryMs: integer('initialRetryMs', body.initialRetryMs ?? 1000, 1, 60_000),
    maxRetryMs: integer('maxRetryMs', body.maxRetryMs ?? 30_000, 1, 600_000),
    timeoutMs: integer('timeoutMs', body.timeoutMs ?? 5000, 1, 60_000),
  };
}

function entityList(name: string, value: unknown): SandboxEntity[] {
  if (!Array.isArray(value) || !value.every((entity) => typeof entity === 'string' && isSandboxEntity(entity))) {
    throw invalid(name, `must be an array of ${SANDBOX_ENTITIES.join(', ')}`);
  }
  return [...new Set(value as SandboxEntity[])];
}

function share(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw invalid(name, 'must be a number from 0 to 1');
  return value;
}

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw invalid(name, `must be an integer from ${min} to ${max}`);
  return value;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function invalid(name: string, problem: string): SyncBridgeError {
  return new SyncBridgeError('validation', `Webhook field '${name}' ${problem}.`);
}
