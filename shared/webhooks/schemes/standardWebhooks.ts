import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import type { WebhookRequest } from '../request';
import { defineVerifier } from '../verifier';
import { indexOfMatch } from '../support/constantTime';
import { decodeBase64 } from '../support/encoding';
import { hmacPerSecret } from '../support/hmac';
import { accepted, rejected } from '../support/results';
import { collectSecrets, configurationError, optionalPositiveNumber, optionsObject } from '../support/secrets';
import { DEFAULT_TOLERANCE_SECONDS } from '../support/timestamps';
import { readFreshTimestamp } from '../support/timestampHeader';
import type { VerifyWebhookResult, WebhookScheme } from '../types';

export interface StandardWebhooksParsedOptions {
  /** HMAC keys: the base64 after `whsec_`, decoded. */
  symmetricKeys: Buffer[];
  /** Ed25519 public keys for v1a signatures. */
  publicKeys: KeyObject[];
  toleranceSeconds: number;
}

/** The three headers of one naming family: `webhook-*` (Standard Webhooks) or `svix-*` (Svix). */
interface HeaderFamily {
  id: string;
  timestamp: string;
  signature: string;
}

export const STANDARD_HEADERS: HeaderFamily = { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' };
export const SVIX_HEADERS: HeaderFamily = { id: 'svix-id', timestamp: 'svix-timestamp', signature: 'svix-signature' };

const TOKEN = /^(v[0-9]+[a-z]*),([A-Za-z0-9+/]+={0,2})$/;
const MESSAGE_ID = /^[^\s.,]+$/;

/** Reads whsec_ secrets and whpk_ public keys from `secret` / `secrets` / `publicKeys`. */
export function parseStandardWebhooksOptions(scheme: WebhookScheme, secret: unknown): StandardWebhooksParsedOptions {
  const options = optionsObject(secret);
  const publicKeyOption = options.publicKeys;
  if (publicKeyOption !== undefined && (!Array.isArray(publicKeyOption) || !publicKeyOption.every((key) => typeof key === 'string'))) {
    throw configurationError(scheme, 'publicKeys', 'must be an array of whpk_ strings');
  }
  const all = [...collectSecrets(scheme, secret, { allowEmpty: true }), ...((publicKeyOption as string[] | undefined) ?? [])];
  if (all.length === 0) throw configurationError(scheme, 'secret', 'must hold at least one whsec_ secret or whpk_ public key');
  const symmetricKeys: Buffer[] = [];
  const publicKeys: KeyObject[] = [];
  for (const value of all) {
    if (value.startsWith('whpk_')) {
      const raw = decodeBase64(value.slice('whpk_'.length), 32);
      if (!raw) throw configurationError(scheme, 'publicKeys', 'holds a whpk_ key that is not the base64 of 32 bytes');
      publicKeys.push(createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' }));
    } else {
      // The spec serialises secrets as whsec_<base64>; the prefix is optional, as in the reference library.
      const key = decodeBase64(value.startsWith('whsec_') ? value.slice('whsec_'.length) : value);
      if (!key) throw configurationError(scheme, 'secret', 'holds a secret that is not base64 after its whsec_ prefix');
      symmetricKeys.push(key);
    }
  }
  return {
    symmetricKeys,
    publicKeys,
    toleranceSeconds: optionalPositiveNumber(scheme, options, 'toleranceSeconds', DEFAULT_TOLERANCE_SECONDS),
  };
}

/**
 * Standard Webhooks: `webhook-signature` holds space-separated `v1,<base64 HMAC-SHA256>` and/or
 * `v1a,<base64 Ed25519>` signatures of "{webhook-id}.{webhook-timestamp}.{body}". Unknown versions
 * are skipped (the spec's forward compatibility); a token that is not `version,base64` is a
 * rejection, since that is what a joined duplicate header looks like.
 */
export function verifyStandardWebhook(request: WebhookRequest, options: StandardWebhooksParsedOptions, family: HeaderFamily): VerifyWebhookResult {
  const id = request.headers.single(family.id);
  if (!id.ok) return rejected(id.reason);
  // The spec warns that a '.' in the id or timestamp would let one signed content pose as another.
  if (!MESSAGE_ID.test(id.value)) return rejected(`The ${family.id} header is malformed: it must not hold '.', ',' or spaces.`);
  const timestamp = readFreshTimestamp(request.headers, family.timestamp, request.now, options.toleranceSeconds);
  if (!timestamp.ok) return rejected(timestamp.reason);
  const header = request.headers.single(family.signature, { allowComma: true });
  if (!header.ok) return rejected(header.reason);

  const hmacSignatures: Buffer[] = [];
  const ed25519Signatures: Buffer[] = [];
  for (const token of header.value.split(' ')) {
    if (token === '') continue;
    const match = TOKEN.exec(token);
    if (!match) return rejected(`The ${family.signature} header is malformed: "${token.slice(0, 24)}" is not version,base64.`);
    const [, version, encoded] = match;
    if (version === 'v1') {
      const bytes = decodeBase64(encoded, 32);
      if (!bytes) return rejected(`The ${family.signature} header is malformed: a v1 signature is not the base64 of 32 bytes.`);
      hmacSignatures.push(bytes);
    } else if (version === 'v1a') {
      const bytes = decodeBase64(encoded, 64);
      if (!bytes) return rejected(`The ${family.signature} header is malformed: a v1a signature is not the base64 of 64 bytes.`);
      ed25519Signatures.push(bytes);
    }
  }
  if (hmacSignatures.length === 0 && ed25519Signatures.length === 0) {
    return rejected(`The ${family.signature} header carries no v1 or v1a signature.`);
  }
  const prefix = `${id.value}.${timestamp.text}.`;
  // The HMAC reads the prefix and the body in turn; only an Ed25519 check needs them as one buffer.
  let valid = indexOfMatch(hmacPerSecret('sha256', options.symmetricKeys, prefix, request.body), hmacSignatures) >= 0;
  if (options.publicKeys.length > 0 && ed25519Signatures.length > 0) {
    const signed = Buffer.concat([Buffer.from(prefix, 'utf8'), request.body]);
    for (const key of options.publicKeys) {
      for (const signature of ed25519Signatures) valid = verifyEd25519(key, signed, signature) || valid;
    }
  }
  return valid ? accepted() : rejected(`No signature in the ${family.signature} header matches for any active secret or public key.`);
}

function verifyEd25519(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    return verifySignature(null, data, key, signature);
  } catch {
    return false;
  }
}

export const standardWebhooksVerifier = defineVerifier({
  scheme: 'standard-webhooks',
  parseOptions: (secret: unknown) => parseStandardWebhooksOptions('standard-webhooks', secret),
  verify: (request, options) => verifyStandardWebhook(request, options, STANDARD_HEADERS),
});
