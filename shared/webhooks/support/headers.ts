/** What callers may pass as headers: a Node-style record (arrays for repeated headers) or a fetch Headers. */
export type WebhookHeadersInit = Record<string, string | string[] | undefined> | Headers;

export type HeaderLookup = { ok: true; value: string } | { ok: false; reason: string };

export interface SingleHeaderOptions {
  /**
   * Whether a comma may appear in the value. Defaults to false: a fetch `Headers` object (and many
   * proxies) joins a repeated header with ", ", so for a header whose grammar has no commas a comma
   * means the header was sent twice, which is a rejection.
   */
  allowComma?: boolean;
}

/**
 * Case-insensitive, read-only view of a request's headers that refuses ambiguity: a header sent
 * twice is reported, never silently collapsed to its first or last value.
 *
 * Over a fetch `Headers` the view reads through `get()`, which joins a repeated header with ", "
 * exactly as iterating would: nothing is copied for the two or three headers a scheme reads.
 * (`Set-Cookie`, the one header fetch keeps apart when repeated, is read by iterating.)
 */
export class WebhookHeaders {
  private values: Map<string, string[]> | undefined;
  private readonly lookup: HeadersLike | undefined;

  constructor(private readonly init: WebhookHeadersInit) {
    if (isHeadersLike(init)) this.lookup = init;
  }

  /** Whether the header was sent at all (even empty or repeated). */
  has(name: string): boolean {
    return this.valuesOf(name) !== undefined;
  }

  /**
   * The one value of a header that must appear exactly once. `displayName` is used in reasons, so
   * pass the provider's spelling (e.g. "X-Hub-Signature-256").
   */
  single(displayName: string, options: SingleHeaderOptions = {}): HeaderLookup {
    const found = this.valuesOf(displayName);
    if (found === undefined || found.length === 0) {
      return { ok: false, reason: `The ${displayName} header is missing.` };
    }
    if (found.length > 1) {
      return { ok: false, reason: `The ${displayName} header appears more than once.` };
    }
    const value = found[0].trim();
    if (value.length === 0) {
      return { ok: false, reason: `The ${displayName} header is empty.` };
    }
    if (!options.allowComma && value.includes(',')) {
      return { ok: false, reason: `The ${displayName} header appears more than once (its value holds a comma).` };
    }
    return { ok: true, value };
  }

  private valuesOf(name: string): string[] | undefined {
    const key = name.toLowerCase();
    if (this.lookup === undefined || key === 'set-cookie') return this.all().get(key);
    let value: unknown;
    try {
      value = this.lookup.get(key);
    } catch {
      // Not a header name at all (a setting's typo, e.g. a trailing space): no request carries it.
      return undefined;
    }
    return typeof value === 'string' ? [value] : undefined;
  }

  /** Every header, by lower-case name, built on first use. */
  private all(): Map<string, string[]> {
    if (this.values !== undefined) return this.values;
    const values = new Map<string, string[]>();
    const add = (name: string, value: string) => {
      const key = name.toLowerCase();
      const list = values.get(key);
      if (list) list.push(value);
      else values.set(key, [value]);
    };
    if (this.lookup !== undefined) {
      this.lookup.forEach((value, name) => add(name, value));
    } else {
      for (const [name, value] of Object.entries(this.init as Record<string, unknown>)) {
        if (value === undefined || value === null) continue;
        if (Array.isArray(value)) {
          for (const item of value) add(name, String(item));
        } else {
          add(name, String(value));
        }
      }
    }
    this.values = values;
    return values;
  }
}

type HeadersLike = Pick<Headers, 'forEach' | 'get'>;

/**
 * Any fetch-style Headers (global, undici, a polyfill or another realm): checked by shape, because
 * reading one as a plain record would find no headers at all and reject every request.
 */
function isHeadersLike(init: unknown): init is HeadersLike {
  if (typeof Headers !== 'undefined' && init instanceof Headers) return true;
  const candidate = init as { forEach?: unknown; get?: unknown } | null;
  return typeof candidate?.forEach === 'function' && typeof candidate.get === 'function' && !Array.isArray(init);
}
