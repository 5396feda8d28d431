import type { IncomingMessage } from 'node:http';
import { SyncBridgeError } from '../../shared/core/errors';
import { SandboxEntity } from '../entities';
import { readBodyText, readJsonObject } from '../httpIo';
import { headerValue } from '../providerAuth';
import { ProviderResult } from '../providerResult';
import { SandboxState } from '../sandboxState';
import { writeFingerprint } from './idempotencyStore';
import { etagFor, ifMatchHolds } from './preconditions';
import { FieldError, WriteMode, validateRecordFields } from './recordValidation';

export type WriteMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface WriteTarget {
  entity: SandboxEntity;
  /** Absent for POST to the collection. */
  id?: string;
}

/** Stripe's limit; keys are opaque to the sandbox, but must fit in a header sensibly. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * A /v1 write: POST /v1/{entity} creates (the sandbox assigns the id), PUT replaces, PATCH merges
 * top-level fields, DELETE removes. With an Idempotency-Key, the first result is kept and every
 * repeat of the same request gets it back (with `Idempotent-Replayed: true`) without writing
 * again; the same key on a different request is 422. Order of checks, as RFC 9110 wants:
 * existence (404), then If-Match (412), then the fields (422).
 */
export async function handleWrite(state: SandboxState, req: IncomingMessage, method: WriteMethod, target: WriteTarget): Promise<ProviderResult> {
  const key = headerValue(req, 'idempotency-key');
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
    throw new SyncBridgeError('validation', "Header 'Idempotency-Key' must be 1 to 255 visible ASCII characters.");
  }
  let fields: Record<string, unknown> = {};
  if (method === 'DELETE') await readBodyText(req);
  else fields = await readJsonObject(req);

  // From here to the end nothing awaits, so two requests with one key cannot both miss the store.
  const path = `/v1/${target.entity}${target.id === undefined ? '' : `/${target.id}`}`;
  const fingerprint = writeFingerprint(method, path, method === 'DELETE' ? null : fields);
  if (key !== undefined) {
    const first = state.idempotency.get(key);
    if (first && first.fingerprint !== fingerprint) {
      state.stats.write('idempotencyMismatches');
      const sameTarget = first.method === method && first.path === path;
      return {
        status: 422,
        body: { error: `Idempotency-Key '${key}' was first used for ${first.method} ${first.path}${sameTarget ? ' with a different body' : ''}; send a new key for a different request.` },
      };
    }
    if (first) {
      state.stats.write('idempotentReplays');
      return { ...first.result, headers: { ...first.result.headers, 'Idempotent-Replayed': 'true' } };
    }
  }
  const result = executeWrite(state, method, target, fields, headerValue(req, 'if-match'));
  if (key !== undefined) state.idempotency.remember(key, { fingerprint, method, path, result });
  return result;
}

function executeWrite(state: SandboxState, method: WriteMethod, target: WriteTarget, fields: Record<string, unknown>, ifMatch: string | undefined): ProviderResult {
  const { entity, id } = target;
  const store = state.dataset.store(entity);
  const second = state.dataset.mutationSecond();
  // The router sends only POST to a collection, and POST only there.
  if (id === undefined) {
    const errors = validateRecordFields(state.dataset, entity, fields, 'create');
    if (errors.length > 0) return invalid(state, entity, errors);
    const record = store.insert(fields, second);
    state.stats.write('created');
    return { status: 201, body: record, headers: { Location: `/v1/${entity}/${record.id}`, ETag: etagFor(store.version(record.id)!) } };
  }

  const current = store.get(id);
  const version = store.version(id);
  if (!current || version === undefined) return { status: 404, body: { error: `No ${entity} record with id '${id}'.` } };
  if (!ifMatchHolds(ifMatch, { version, updatedAt: current.updated_at })) {
    state.stats.write('preconditionFailed');
    return {
      status: 412,
      body: { error: `If-Match ${ifMatch} does not match ${entity} '${id}', which is now version ${version} (updated_at ${current.updated_at}).`, record: current },
      headers: { ETag: etagFor(version) },
    };
  }
  if (method === 'DELETE') {
    store.delete(id, second);
    state.stats.write('deleted');
    return { status: 204, body: undefined };
  }
  const mode: WriteMode = method === 'PUT' ? 'replace' : 'patch';
  const errors = validateRecordFields(state.dataset, entity, fields, mode, id);
  if (errors.length > 0) return invalid(state, entity, errors);
  const record = mode === 'replace' ? store.replace(id, fields, second)! : store.patch(id, fields, second)!;
  state.stats.write(mode === 'replace' ? 'replaced' : 'updated');
  return { status: 200, body: record, headers: { ETag: etagFor(store.version(id)!) } };
}

function invalid(state: SandboxState, entity: SandboxEntity, errors: FieldError[]): ProviderResult {
  state.stats.write('validationFailed');
  return { status: 422, body: { error: `The ${entity} record is not valid: ${errors.map((error) => error.message).join(' ')}`, errors } };
}
