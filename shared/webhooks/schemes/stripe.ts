import { defineVerifier } from '../verifier';
import { indexOfMatch } from '../support/constantTime';
import { decodeHex } from '../support/encoding';
import { hmacPerSecret } from '../support/hmac';
import { accepted, rejected } from '../support/results';
import { collectSecrets, configurationError, optionalPositiveNumber, optionsObject } from '../support/secrets';
import { DEFAULT_TOLERANCE_SECONDS, parseUnixSeconds, toleranceViolation } from '../support/timestamps';

const SIGNATURE_HEADER = 'Stripe-Signature';
const ITEM = /^([a-z0-9_]+)=([^\s=,]+)$/;
const V1 = /^[0-9a-fA-F]{64}$/;

interface ParsedStripeHeader {
  timestamp: string;
  v1: string[];
  hasV0: boolean;
}

/**
 * Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`, each v1 an HMAC-SHA256 of
 * "{t}.{raw body}" keyed by the endpoint secret used as-is (`whsec_…` included). Several v1 entries
 * appear while Stripe rolls an endpoint secret; any one may match. v0 (test-mode legacy) is ignored.
 * The timestamp must be within 300 s either way (stripe-node only checks the past; a future
 * timestamp widens the replay window just the same).
 */
export const stripeVerifier = defineVerifier({
  scheme: 'stripe',
  parseOptions(secret: unknown) {
    const secrets = collectSecrets('stripe', secret);
    // stripe-node refuses secrets with whitespace: it is always a copy-paste accident.
    if (secrets.some((value) => /\s/.test(value))) throw configurationError('stripe', 'secret', 'contains whitespace');
    return {
      secrets,
      toleranceSeconds: optionalPositiveNumber('stripe', optionsObject(secret), 'toleranceSeconds', DEFAULT_TOLERANCE_SECONDS),
    };
  },
  verify(request, options) {
    const header = request.headers.single(SIGNATURE_HEADER, { allowComma: true });
    if (!header.ok) return rejected(header.reason);
    const parsed = parseStripeHeader(header.value);
    if (typeof parsed === 'string') return rejected(parsed);
    const timestamp = parseUnixSeconds(parsed.timestamp);
    if (timestamp === undefined) return rejected(`The ${SIGNATURE_HEADER} header is malformed: t is not unix seconds.`);
    const violation = toleranceViolation(`${SIGNATURE_HEADER} timestamp`, timestamp, request.now, options.toleranceSeconds);
    if (violation) return rejected(violation);
    if (parsed.v1.length === 0) {
      return rejected(
        parsed.hasV0
          ? `The ${SIGNATURE_HEADER} header carries only v0 signatures; v1 is required.`
          : `The ${SIGNATURE_HEADER} header carries no v1 signature.`,
      );
    }
    const provided = parsed.v1.map((hex) => decodeHex(hex, 32)!);
    const expected = hmacPerSecret('sha256', options.secrets, `${parsed.timestamp}.`, request.body);
    return indexOfMatch(expected, provided) >= 0
      ? accepted()
      : rejected(`No v1 signature in the ${SIGNATURE_HEADER} header matches the timestamp and body for any active secret.`);
  },
});

function parseStripeHeader(value: string): ParsedStripeHeader | string {
  let timestamp: string | undefined;
  const v1: string[] = [];
  let hasV0 = false;
  for (const item of value.split(',')) {
    const match = ITEM.exec(item);
    if (!match) return `The ${SIGNATURE_HEADER} header is malformed: "${item.slice(0, 40)}" is not key=value.`;
    const [, key, itemValue] = match;
    if (key === 't') {
      // Two timestamps means two headers were joined; which one is signed is ambiguous.
      if (timestamp !== undefined) return `The ${SIGNATURE_HEADER} header appears more than once (it holds two timestamps).`;
      timestamp = itemValue;
    } else if (key === 'v1') {
      if (!V1.test(itemValue)) return `The ${SIGNATURE_HEADER} header is malformed: a v1 signature is not 64 hex digits.`;
      v1.push(itemValue);
    } else if (key === 'v0') {
      hasV0 = true;
    }
    // Other keys are schemes Stripe may add later; they are neither trusted nor an error.
  }
  if (timestamp === undefined) return `The ${SIGNATURE_HEADER} header is malformed: it has no t= timestamp.`;
  return { timestamp, v1, hasV0 };
}
