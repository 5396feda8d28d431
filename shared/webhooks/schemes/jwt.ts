import { defineVerifier } from '../verifier';
import { readKeySource } from '../jwt/keySourceOptions';
import { ASYMMETRIC_ALGORITHMS, SYMMETRIC_ALGORITHMS } from '../jwt/algorithms';
import { verifyJwt, type JwtKeySource } from '../jwt/verifyJwt';
import { readCredential } from '../support/credentialHeader';
import { accepted, rejected } from '../support/results';
import {
  collectSecrets,
  configurationError,
  optionalPositiveNumber,
  optionalString,
  optionalStringList,
  requireOptionsObject,
} from '../support/secrets';

interface JwtOptions {
  header: string;
  authScheme: string;
  source: JwtKeySource;
  algorithms: string[];
  audiences?: string[];
  issuers?: string[];
  clockToleranceSeconds: number;
  requireExpiration: boolean;
}

/**
 * A custom sender's JWT in a header (default `Authorization: Bearer <jwt>`), verified with shared
 * secrets (HS256/384/512) and/or a JWKS (inline or jwks_uri). A JWT does not cover the body, so it
 * proves who sent the request, not what they sent; prefer `hmac` when the sender can sign bodies.
 */
export const jwtVerifier = defineVerifier({
  scheme: 'jwt',
  parseOptions(secret: unknown): JwtOptions {
    const options = requireOptionsObject('jwt', secret);
    const sharedSecrets = collectSecrets('jwt', secret, { allowEmpty: true }).map((value) => new TextEncoder().encode(value));
    const keySource = readKeySource('jwt', options);
    if (sharedSecrets.length === 0 && !keySource.keySet && !keySource.jwksUri) {
      throw configurationError('jwt', 'secret', 'must hold a shared secret, or jwks / jwksUri must be set');
    }
    const header = optionalString('jwt', options, 'header') ?? 'Authorization';
    const authScheme = options.authScheme ?? (header.toLowerCase() === 'authorization' ? 'Bearer' : '');
    if (typeof authScheme !== 'string') throw configurationError('jwt', 'authScheme', 'must be a string');
    const defaults = [...(sharedSecrets.length > 0 ? SYMMETRIC_ALGORITHMS : []), ...(keySource.keySet || keySource.jwksUri ? ASYMMETRIC_ALGORITHMS : [])];
    const algorithms = optionalStringList('jwt', options, 'algorithms') ?? defaults;
    if (algorithms.some((alg) => !(defaults as string[]).includes(alg))) {
      throw configurationError('jwt', 'algorithms', `may only name algorithms the configured keys support (${defaults.join(', ')})`);
    }
    if (options.requireExpiration !== undefined && typeof options.requireExpiration !== 'boolean') {
      throw configurationError('jwt', 'requireExpiration', 'must be a boolean');
    }
    return {
      header,
      authScheme,
      source: { ...keySource, sharedSecrets },
      algorithms,
      audiences: optionalStringList('jwt', options, 'audience'),
      issuers: optionalStringList('jwt', options, 'issuer'),
      clockToleranceSeconds: optionalPositiveNumber('jwt', options, 'clockToleranceSeconds', 0),
      requireExpiration: options.requireExpiration ?? true,
    };
  },
  async verify(request, options) {
    const credential = readCredential(request.headers, options.header, options.authScheme);
    if (!credential.ok) return rejected(credential.reason);
    const result = await verifyJwt(credential.value, {
      where: `the ${options.header} header`,
      source: options.source,
      algorithms: options.algorithms,
      audiences: options.audiences,
      issuers: options.issuers,
      now: request.now,
      clockToleranceSeconds: options.clockToleranceSeconds,
      requireExpiration: options.requireExpiration,
    });
    return result.ok ? accepted() : rejected(result.reason);
  },
});
