import { defineVerifier } from '../verifier';
import { constantTimeEqualSecret } from '../support/constantTime';
import { readCredential } from '../support/credentialHeader';
import { decodeBase64, isPlainObject } from '../support/encoding';
import { accepted, rejected } from '../support/results';
import { collectSecrets, configurationError, optionsObject } from '../support/secrets';

/**
 * HTTP Basic credentials (RFC 7617): `Authorization: Basic base64(user:password)`. The decoded
 * "user:password" is compared as a whole against each active credential, as digests in constant time.
 */
export const basicVerifier = defineVerifier({
  scheme: 'basic',
  parseOptions(secret: unknown) {
    const options = optionsObject(secret);
    const credentials = collectSecrets('basic', secret, { allowEmpty: true });
    if (options.username !== undefined || options.password !== undefined) credentials.push(pair(options.username, options.password));
    if (options.credentials !== undefined) {
      if (!Array.isArray(options.credentials)) throw configurationError('basic', 'credentials', 'must be an array of { username, password }');
      for (const item of options.credentials) {
        if (!isPlainObject(item)) throw configurationError('basic', 'credentials', 'must be an array of { username, password }');
        credentials.push(pair(item.username, item.password));
      }
    }
    if (credentials.length === 0) throw configurationError('basic', 'credentials', 'must hold at least one username and password');
    if (credentials.some((credential) => !credential.includes(':'))) {
      throw configurationError('basic', 'secret', 'must be "username:password" strings');
    }
    return { credentials };
  },
  verify(request, options) {
    const credential = readCredential(request.headers, 'Authorization', 'Basic');
    if (!credential.ok) return rejected(credential.reason);
    const decoded = decodeBase64(credential.value);
    if (!decoded || !decoded.includes(0x3a /* : */)) {
      return rejected('The Authorization header is malformed: Basic credentials must be base64 of "user:password".');
    }
    let matched = false;
    for (const expected of options.credentials) matched = constantTimeEqualSecret(decoded, expected) || matched;
    return matched ? accepted() : rejected('The Authorization header does not hold active credentials.');
  },
});

function pair(username: unknown, password: unknown): string {
  if (typeof username !== 'string' || username.length === 0 || username.includes(':') || typeof password !== 'string' || password.length === 0) {
    throw configurationError('basic', 'credentials', 'needs a non-empty username without ":" and a non-empty password');
  }
  return `${username}:${password}`;
}
