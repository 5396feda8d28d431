/**
 * Keeps secrets out of logs and telemetry (DESIGN.md §4: "secrets never reach logs, errors or
 * telemetry"). Shared by every Telemetry implementation so that they all mask the same way.
 */

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
 * Replaces every occurrence of every known secret value in `text` with MASK. Longer values are
 * replaced first, so that a secret containing another secret is masked whole. Empty values are
 * ignored (they would match everywhere).
 */
export function maskText(text: string, secretValues: Iterable<string> = []): string {
  const values = [...secretValues].filter((value) => value.length > 0).sort((a, b) => b.length - a.length);
  let masked = text;
  for (const value of values) {
    if (masked.includes(value)) masked = masked.split(value).join(MASK);
  }
  return masked;
}

/**
 * A copy of `properties` with secret-named keys replaced by MASK (whatever their value type) and
 * known secret values masked inside every other string value. null and undefined stay as they are,
 * so that "this property was absent" is still visible.
 */
export function maskProperties<T extends Record<string, unknown>>(properties: T, secretValues: Iterable<string> = []): { [K in keyof T]: T[K] | string } {
  const values = [...secretValues];
  const masked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) {
    if (value === null || value === undefined) masked[key] = value;
    else if (isSecretKey(key)) masked[key] = MASK;
    else if (typeof value === 'string') masked[key] = maskText(value, values);
    else masked[key] = value;
  }
  return masked as { [K in keyof T]: T[K] | string };
}
