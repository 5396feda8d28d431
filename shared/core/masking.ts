/**
 * Keeps secrets out of logs, telemetry and errors (DESIGN.md §4: "secrets never reach logs, errors
 * or telemetry"). Shared by every Telemetry implementation so that they all mask the same way, and
 * by the provider clients for the provider text they quote in their errors (maskProviderText).
 */
import { SecretMatcher, type SecretFinder, type Span } from './secretMatcher';

/** What a masked value is replaced with. */
export const MASK = '***';

/**
 * Property keys that name a secret, matched anywhere in the key and case-insensitively, so that
 * `clientSecret`, `X-Api-Key`, `refresh_token` and `Authorization` all count. Over-masking a
 * harmless `tokenCount` is the price of never leaking a `token`.
 */
const SECRET_KEY = /password|passwd|secret|token|api[-_]?key|authori[sz]ation|credential|cookie|signature/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * Replaces every occurrence of every known secret value in `text` with MASK. Where occurrences
 * overlap (a secret containing another, or one's tail being another's head) their union becomes
 * one MASK, so that no piece of either is left. Empty values are ignored (they would match
 * everywhere). `secretValues` is either the values themselves, for a one-off mask, or a finder
 * kept across calls (a Telemetry's SecretValueRegistry), which does not go over every value per
 * text.
 */
export function maskText(text: string, secretValues: Iterable<string> | SecretFinder = []): string {
  return maskSpans(text, finderOf(secretValues).spansIn(text));
}

function maskSpans(text: string, spans: readonly Span[]): string {
  if (spans.length === 0) return text;
  let masked = '';
  let copied = 0;
  for (const [start, end] of spans) {
    masked += text.slice(copied, start) + MASK;
    copied = end;
  }
  return masked + text.slice(copied);
}

function finderOf(secretValues: Iterable<string> | SecretFinder): SecretFinder {
  return typeof (secretValues as SecretFinder).spansIn === 'function' ? (secretValues as SecretFinder) : SecretMatcher.of(secretValues as Iterable<string>);
}

/**
 * A copy of `properties` with secret-named keys replaced by MASK (whatever their value type) and
 * known secret values masked inside every other string value. null and undefined stay as they are,
 * so that "this property was absent" is still visible.
 */
export function maskProperties<T extends Record<string, unknown>>(properties: T, secretValues: Iterable<string> | SecretFinder = []): { [K in keyof T]: T[K] | string } {
  const finder = finderOf(secretValues);
  const masked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) {
    if (value === null || value === undefined) masked[key] = value;
    else if (isSecretKey(key)) masked[key] = MASK;
    else if (typeof value === 'string') masked[key] = maskText(value, finder);
    else masked[key] = value;
  }
  return masked as { [K in keyof T]: T[K] | string };
}

/**
 * `Bearer <token>` and `Basic <credentials>` in free text. A provider may echo an Authorization
 * header whose value we do not know (another request's, another client's); this catches those.
 * Only runs of 16 or more token characters count, so prose such as "Bearer token" stays readable.
 */
const AUTH_SCHEME_CREDENTIAL = /\b(Bearer|Basic)(\s+)[A-Za-z0-9\-._~+/]{16,}=*/gi;

/** Masks the credential after every `Bearer` or `Basic` in `text`, keeping the scheme's name. */
export function maskAuthSchemes(text: string): string {
  return text.replace(AUTH_SCHEME_CREDENTIAL, `$1$2${MASK}`);
}

/**
 * The credential values a request's headers carry, from every secret-named header (Authorization,
 * X-Api-Key, Cookie, …): the credential after an auth scheme (`Bearer <token>`, so that a quote
 * still says which scheme was refused), else the whole value; for Basic (RFC 7617) also the
 * decoded `id:secret` and the secret, plus the id when the secret is empty, since APIs that take
 * a key as the Basic user name (Stripe) send it there.
 */
export function credentialValuesOfHeaders(headers: Record<string, string>): string[] {
  const values: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!isSecretKey(name) || typeof value !== 'string') continue;
    const scheme = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s+(\S+)\s*$/.exec(value);
    if (!scheme) {
      values.push(value);
      continue;
    }
    values.push(scheme[2]);
    if (scheme[1].toLowerCase() !== 'basic') continue;
    const decoded = Buffer.from(scheme[2], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) continue;
    const [id, secret] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    values.push(decoded, secret === '' ? id : secret);
  }
  return values.filter((value) => value.length > 0);
}

/**
 * Text a provider sent (a 4xx body, an OAuth error_description) made fit for an error message,
 * which ends up in stored run, outbox and conflict errors, API answers and logs. The credentials
 * sent with the request are masked as sent and as a provider may echo them (percent-, form- or
 * JSON-encoded), then any `Bearer`/`Basic` credential; only then is the text cut to `maxLength`,
 * so that the cut cannot leave the head of a token behind. The rest of the text stays readable.
 */
export function maskProviderText(text: string, sentCredentials: Iterable<string>, maxLength: number): string {
  const values = new Set<string>();
  for (const value of sentCredentials) {
    if (value.length === 0) continue;
    values.add(value);
    values.add(encodeURIComponent(value));
    values.add(new URLSearchParams({ v: value }).toString().slice(2));
    values.add(JSON.stringify(value).slice(1, -1));
  }
  return maskAuthSchemes(maskText(text, values)).slice(0, maxLength);
}
