import { defineVerifier } from '../verifier';
import { indexOfMatch } from '../support/constantTime';
import { decodeBase64, decodeHex } from '../support/encoding';
import { hmacPerSecret, type HmacAlgorithm } from '../support/hmac';
import { accepted, rejected } from '../support/results';
import { collectSecrets, configurationError, optionalPositiveNumber, optionalString, requireOptionsObject } from '../support/secrets';
import { DEFAULT_TOLERANCE_SECONDS } from '../support/timestamps';
import { readFreshTimestamp } from '../support/timestampHeader';

const DIGEST_BYTES: Record<HmacAlgorithm, number> = { sha1: 20, sha256: 32, sha512: 64 };

interface CustomHmacOptions {
  secrets: string[];
  header: string;
  algorithm: HmacAlgorithm;
  encoding: 'hex' | 'base64';
  prefix: string;
  timestampHeader?: string;
  toleranceSeconds: number;
}

/**
 * A custom sender's HMAC: `<header>: <prefix><hex|base64 HMAC of the raw body>`. With a
 * `timestampHeader` the signed content becomes "{timestamp}.{raw body}" (Stripe's layout): a
 * timestamp outside the signature could be changed freely, so checking its freshness alone would
 * prove nothing.
 */
export const customHmacVerifier = defineVerifier({
  scheme: 'hmac',
  parseOptions(secret: unknown): CustomHmacOptions {
    const options = requireOptionsObject('hmac', secret);
    const header = optionalString('hmac', options, 'header');
    if (!header) throw configurationError('hmac', 'header', 'is required');
    const { algorithm, encoding } = options;
    if (algorithm !== 'sha1' && algorithm !== 'sha256' && algorithm !== 'sha512') {
      throw configurationError('hmac', 'algorithm', 'must be "sha1", "sha256" or "sha512"');
    }
    if (encoding !== 'hex' && encoding !== 'base64') throw configurationError('hmac', 'encoding', 'must be "hex" or "base64"');
    const prefix = options.prefix ?? '';
    if (typeof prefix !== 'string') throw configurationError('hmac', 'prefix', 'must be a string');
    return {
      secrets: collectSecrets('hmac', secret),
      header,
      algorithm,
      encoding,
      prefix,
      timestampHeader: optionalString('hmac', options, 'timestampHeader'),
      toleranceSeconds: optionalPositiveNumber('hmac', options, 'toleranceSeconds', DEFAULT_TOLERANCE_SECONDS),
    };
  },
  verify(request, options) {
    let signedPrefix = '';
    if (options.timestampHeader !== undefined) {
      const timestamp = readFreshTimestamp(request.headers, options.timestampHeader, request.now, options.toleranceSeconds);
      if (!timestamp.ok) return rejected(timestamp.reason);
      signedPrefix = `${timestamp.text}.`;
    }
    const header = request.headers.single(options.header, { allowComma: options.prefix.includes(',') });
    if (!header.ok) return rejected(header.reason);
    if (!header.value.startsWith(options.prefix)) {
      return rejected(`The ${options.header} header is malformed: it does not start with "${options.prefix}".`);
    }
    const encoded = header.value.slice(options.prefix.length);
    const bytes = DIGEST_BYTES[options.algorithm];
    const provided = options.encoding === 'hex' ? decodeHex(encoded, bytes) : decodeBase64(encoded, bytes);
    if (!provided) {
      return rejected(`The ${options.header} header is malformed: expected a ${options.encoding} ${options.algorithm} HMAC.`);
    }
    const expected = hmacPerSecret(options.algorithm, options.secrets, signedPrefix, request.body);
    return indexOfMatch(expected, [provided]) >= 0
      ? accepted()
      : rejected(`The ${options.header} signature does not match the body for any active secret.`);
  },
});
