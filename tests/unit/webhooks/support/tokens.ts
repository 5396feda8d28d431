import { createHmac, createSign, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { JSONWebKeySet } from '../../../../shared/webhooks';

/**
 * Minimal synchronous JWT signing for tests, from RFC 7515/7519 with node:crypto. The verifier uses
 * jose; signing these tokens without it means the tests also prove that jose accepts tokens from an
 * independent signer, and being synchronous lets fixtures be built at module load (the fuzz pools).
 * Tokens for the wider algorithm set are signed with jose's SignJWT in jwtAlgorithms.test.ts.
 */

export interface TestSigningKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: Record<string, unknown>;
}

export function newRsaKey(kid: string, modulusLength = 2048): TestSigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength });
  return { kid, privateKey, publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } };
}

export function newEcKey(kid: string): TestSigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, privateKey, publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig' } };
}

export const jwksOf = (...keys: TestSigningKey[]): JSONWebKeySet => ({ keys: keys.map((key) => key.publicJwk) as JSONWebKeySet['keys'] });

const b64url = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export function signRs256(key: TestSigningKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const input = `${b64url({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...header })}.${b64url(claims)}`;
  const signature = createSign('sha256').update(input).sign(key.privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

export function signEs256(key: TestSigningKey, claims: Record<string, unknown>): string {
  const input = `${b64url({ alg: 'ES256', typ: 'JWT', kid: key.kid })}.${b64url(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

export function signHs256(secret: string, claims: Record<string, unknown>, alg = 'HS256'): string {
  const input = `${b64url({ alg, typ: 'JWT' })}.${b64url(claims)}`;
  const digest = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg] ?? 'sha256';
  return `${input}.${createHmac(digest, secret).update(input).digest('base64url')}`;
}

/** A token with `alg: none` and no signature, the oldest JWT attack. */
export function unsignedToken(claims: Record<string, unknown>): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
}
