import { configurationError } from '../support/secrets';
import { localKeySet } from './localJwks';
import { isAllowedJwksUri } from './remoteJwks';
import type { JwtKeySource } from './verifyJwt';

/**
 * Reads `jwks` / `jwksUri` from a scheme's options. Inline keys win (tests, pinned keys); otherwise
 * the URI (or the provider's published default) is fetched and cached at verification time.
 */
export function readKeySource(scheme: string, options: Record<string, unknown>, defaultJwksUri?: string): JwtKeySource {
  if (options.jwks !== undefined) {
    const keySet = localKeySet(options.jwks);
    if (!keySet) throw configurationError(scheme, 'jwks', 'holds no usable public signing keys');
    return { keySet };
  }
  const uri = options.jwksUri ?? defaultJwksUri;
  if (uri === undefined) return {};
  if (typeof uri !== 'string' || !isAllowedJwksUri(uri)) {
    throw configurationError(scheme, 'jwksUri', 'must be an https URL (or http on loopback)');
  }
  return { jwksUri: uri };
}
