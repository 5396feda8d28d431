import { defineVerifier } from '../verifier';
import { readKeySource } from '../jwt/keySourceOptions';
import { verifyJwt, type JwtKeySource } from '../jwt/verifyJwt';
import { accepted, rejected } from '../support/results';
import { configurationError, optionalPositiveNumber, optionalStringList, requireOptionsObject } from '../support/secrets';

/** Where Google publishes the keys that sign its OIDC tokens. */
export const GOOGLE_OAUTH2_CERTS_URI = 'https://www.googleapis.com/oauth2/v3/certs';
const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/i;

interface GooglePubsubOptions {
  source: JwtKeySource;
  audiences: string[];
  emails?: string[];
  issuers: string[];
  clockToleranceSeconds: number;
}

/**
 * Google Cloud Pub/Sub authenticated push: `Authorization: Bearer <OIDC JWT>` signed RS256 by
 * Google, with `iss` accounts.google.com, `aud` the subscription's audience, `email` the push
 * service account with `email_verified` true, and an unexpired `exp`. Keys come from `jwks` when
 * given, else from Google's certs endpoint, fetched and cached.
 */
export const googlePubsubVerifier = defineVerifier({
  scheme: 'google-pubsub',
  parseOptions(secret: unknown): GooglePubsubOptions {
    const options = requireOptionsObject('google-pubsub', secret);
    const audiences = optionalStringList('google-pubsub', options, 'audience');
    if (!audiences) throw configurationError('google-pubsub', 'audience', 'is required (the push subscription audience)');
    return {
      source: readKeySource('google-pubsub', options, GOOGLE_OAUTH2_CERTS_URI),
      audiences,
      emails: optionalStringList('google-pubsub', options, 'email'),
      issuers: optionalStringList('google-pubsub', options, 'issuer') ?? GOOGLE_ISSUERS,
      clockToleranceSeconds: optionalPositiveNumber('google-pubsub', options, 'clockToleranceSeconds', 0),
    };
  },
  async verify(request, options) {
    const header = request.headers.single('Authorization');
    if (!header.ok) return rejected(header.reason);
    const match = BEARER.exec(header.value);
    if (!match) return rejected('The Authorization header is malformed: expected "Bearer" and a JWT.');
    const result = await verifyJwt(match[1], {
      where: 'the Authorization header',
      source: options.source,
      algorithms: ['RS256'],
      issuers: options.issuers,
      audiences: options.audiences,
      now: request.now,
      clockToleranceSeconds: options.clockToleranceSeconds,
      requireExpiration: true,
    });
    if (!result.ok) return rejected(result.reason);
    const { email, email_verified: emailVerified } = result.claims;
    if (typeof email !== 'string' || emailVerified !== true) {
      return rejected('The token in the Authorization header has no verified email claim.');
    }
    if (options.emails && !options.emails.includes(email)) {
      return rejected(`The token in the Authorization header is for service account ${email}, which is not accepted.`);
    }
    return accepted();
  },
});
