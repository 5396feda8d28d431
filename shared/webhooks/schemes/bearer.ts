import { defineVerifier } from '../verifier';
import { constantTimeEqualSecret } from '../support/constantTime';
import { readCredential } from '../support/credentialHeader';
import { accepted, rejected } from '../support/results';
import { collectSecrets, optionalString, optionsObject } from '../support/secrets';

/**
 * A shared token: `Authorization: Bearer <token>`, or the bare token in a custom `header`. Compared
 * as SHA-256 digests in constant time, so neither content nor length of a token leaks.
 */
export const bearerVerifier = defineVerifier({
  scheme: 'bearer',
  parseOptions(secret: unknown) {
    const header = optionalString('bearer', optionsObject(secret), 'header') ?? 'Authorization';
    return { secrets: collectSecrets('bearer', secret), header, authScheme: header.toLowerCase() === 'authorization' ? 'Bearer' : '' };
  },
  verify(request, options) {
    const credential = readCredential(request.headers, options.header, options.authScheme);
    if (!credential.ok) return rejected(credential.reason);
    let matched = false;
    for (const secret of options.secrets) matched = constantTimeEqualSecret(credential.value, secret) || matched;
    return matched ? accepted() : rejected(`The ${options.header} header does not hold an active token.`);
  },
});
