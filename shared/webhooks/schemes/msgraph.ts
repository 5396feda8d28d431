import { defineVerifier } from '../verifier';
import { readKeySource } from '../jwt/keySourceOptions';
import { verifyJwt, type JwtKeySource } from '../jwt/verifyJwt';
import { constantTimeEqualSecret } from '../support/constantTime';
import { isPlainObject, parseJson } from '../support/encoding';
import { accepted, handshakeResult, rejected } from '../support/results';
import { collectSecrets, configurationError, optionalPositiveNumber, optionalStringList, optionsObject } from '../support/secrets';
import type { VerifyWebhookResult } from '../types';

/** Microsoft identity platform keys that sign Graph's validation tokens. */
export const MICROSOFT_JWKS_URI = 'https://login.microsoftonline.com/common/discovery/v2.0/keys';
/** The app id of "Microsoft Graph Change Tracking", the only legitimate publisher of notifications. */
export const GRAPH_CHANGE_TRACKING_APP_ID = '0bf30f3b-4a52-48df-9a82-234910c4a086';
const ISSUER = /^https:\/\/(?:sts\.windows\.net\/([0-9a-fA-F-]{36})\/|login\.microsoftonline\.com\/([0-9a-fA-F-]{36})\/v2\.0)$/;
/** Validation tokens are opaque, but far shorter than this; a longer one is not Graph's. */
const MAX_VALIDATION_TOKEN_LENGTH = 4096;

interface MsgraphOptions {
  clientStates: string[];
  appIds?: string[];
  tenantIds?: string[];
  source: JwtKeySource;
  clockToleranceSeconds: number;
}

/**
 * Microsoft Graph change notifications:
 * - subscription validation: `?validationToken=…` → answer 200 text/plain with the decoded token
 *   within 10 s. It carries no credential, so it is a handshake with `valid: false`.
 * - notifications: JSON `{ value: [...] }`; every item's `clientState` must equal a configured one.
 * - rich notifications (with `encryptedContent`) also carry `validationTokens`: JWTs from Microsoft
 *   identity, audience our app id, `appid`/`azp` Graph Change Tracking; every one must verify.
 */
export const msgraphVerifier = defineVerifier({
  scheme: 'msgraph',
  parseOptions(secret: unknown): MsgraphOptions {
    const options = optionsObject(secret);
    const clientStates = [
      ...collectSecrets('msgraph', secret, { allowEmpty: true }),
      ...(optionalStringList('msgraph', options, 'clientStates') ?? []),
    ];
    if (clientStates.length === 0) throw configurationError('msgraph', 'clientStates', 'must hold at least one clientState');
    return {
      clientStates,
      appIds: optionalStringList('msgraph', options, 'appId'),
      tenantIds: optionalStringList('msgraph', options, 'tenantIds')?.map((id) => id.toLowerCase()),
      source: readKeySource('msgraph', options, MICROSOFT_JWKS_URI),
      clockToleranceSeconds: optionalPositiveNumber('msgraph', options, 'clockToleranceSeconds', 0),
    };
  },
  async verify(request, options): Promise<VerifyWebhookResult> {
    const validationTokens = request.parsedUrl?.searchParams.getAll('validationToken') ?? [];
    if (validationTokens.length > 1) return rejected('The validationToken query parameter appears more than once.');
    if (validationTokens.length === 1) return validationHandshake(validationTokens[0]);

    const parsed = request.body[0] === 0x7b /* { */ ? parseJson(request.body.toString('utf8')) : undefined;
    if (!isPlainObject(parsed) || !Array.isArray(parsed.value) || parsed.value.length === 0) {
      return rejected('The body is not a Graph notification collection (a JSON object with a non-empty value array).');
    }
    let rich = false;
    for (const item of parsed.value) {
      if (!isPlainObject(item)) return rejected('A notification in the value array is not a JSON object.');
      if (typeof item.clientState !== 'string') return rejected('A notification has no clientState.');
      let matched = false;
      for (const expected of options.clientStates) matched = constantTimeEqualSecret(item.clientState, expected) || matched;
      if (!matched) return rejected('A notification carries a clientState that matches no active clientState.');
      if (item.encryptedContent !== undefined) rich = true;
    }
    if (parsed.validationTokens === undefined) {
      return rich ? rejected('The notifications carry encryptedContent but no validationTokens.') : accepted();
    }
    return verifyValidationTokens(parsed.validationTokens, options, request.now);
  },
});

function validationHandshake(token: string): VerifyWebhookResult {
  if (token.length === 0 || token.length > MAX_VALIDATION_TOKEN_LENGTH || /[\u0000-\u001f\u007f]/.test(token)) {
    return rejected('The validationToken query parameter is empty, too long or holds control characters.');
  }
  return handshakeResult(
    false,
    // nosniff: the body echoes request input, so no browser may read it as anything but text.
    { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }, body: token },
    'This is the Microsoft Graph subscription-validation handshake; it carries no credential and is not an event.',
  );
}

async function verifyValidationTokens(tokens: unknown, options: MsgraphOptions, now: number): Promise<VerifyWebhookResult> {
  if (!Array.isArray(tokens) || tokens.length === 0 || !tokens.every((token) => typeof token === 'string')) {
    return rejected('The validationTokens member is not a non-empty array of strings.');
  }
  if (!options.appIds) return rejected('The notifications carry validationTokens, but no appId is configured to check them against.');
  for (const token of tokens as string[]) {
    const result = await verifyJwt(token, {
      where: 'validationTokens',
      source: options.source,
      algorithms: ['RS256'],
      audiences: options.appIds,
      now,
      clockToleranceSeconds: options.clockToleranceSeconds,
      requireExpiration: true,
    });
    if (!result.ok) return rejected(result.reason);
    const { claims } = result;
    const publisher = claims.appid ?? claims.azp;
    if (publisher !== GRAPH_CHANGE_TRACKING_APP_ID) {
      return rejected('A token in validationTokens was not issued to Microsoft Graph Change Tracking.');
    }
    const issuer = typeof claims.iss === 'string' ? ISSUER.exec(claims.iss) : null;
    if (!issuer) return rejected('A token in validationTokens was not issued by Microsoft identity.');
    const tenant = (issuer[1] ?? issuer[2]).toLowerCase();
    if (options.tenantIds && !options.tenantIds.includes(tenant)) {
      return rejected(`A token in validationTokens comes from tenant ${tenant}, which is not accepted.`);
    }
  }
  return accepted();
}
