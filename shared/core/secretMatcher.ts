/**
 * Where known secret values occur in a text, found in one pass whose cost follows the text's
 * length, not the number of values (shared/core/masking.ts masks what it finds). Values can be
 * added and removed one at a time; nothing is rebuilt, copied or sorted per text.
 *
 * Each value is filed under its last ANCHOR_LENGTH characters (the whole value when shorter). A
 * scan looks every window of the text up in that index and compares only the values filed there.
 * Tails rather than heads, because token formats share their heads (a JWT's `eyJhbGciOi…`, vendor
 * prefixes such as `sk_live_`, `ghp_`, `ya29.`) and end in random characters (a signature, a random
 * body), which spreads them across the index. Values sharing a tail share an entry and are
 * compared one by one: that costs time, never correctness.
 */
const ANCHOR_LENGTH = 8;

/** A part of a text to mask: [start, end), as string offsets. */
export type Span = readonly [start: number, end: number];

/** Anything that can say where secrets occur in a text. */
export interface SecretFinder {
  /**
   * Every occurrence of every value, overlapping occurrences merged into one span, in text order.
   * Merging masks the union: where two values overlap (one inside the other, or one's tail being
   * the other's head) no piece of either survives.
   */
  spansIn(text: string): Span[];
}

export class SecretMatcher implements SecretFinder {
  /** Anchor length (1 to ANCHOR_LENGTH) → anchor → the values ending in it. */
  private readonly index = new Map<number, Map<string, Set<string>>>();
  private count = 0;

  static of(values: Iterable<string>): SecretMatcher {
    const matcher = new SecretMatcher();
    for (const value of values) matcher.add(value);
    return matcher;
  }

  get size(): number {
    return this.count;
  }

  /** Empty values are ignored: they would match everywhere. */
  add(value: string): void {
    if (typeof value !== 'string' || value.length === 0) return;
    const anchor = value.slice(-ANCHOR_LENGTH);
    let byAnchor = this.index.get(anchor.length);
    if (!byAnchor) this.index.set(anchor.length, (byAnchor = new Map()));
    let values = byAnchor.get(anchor);
    if (!values) byAnchor.set(anchor, (values = new Set()));
    if (values.has(value)) return;
    values.add(value);
    this.count += 1;
  }

  delete(value: string): void {
    if (typeof value !== 'string' || value.length === 0) return;
    const anchor = value.slice(-ANCHOR_LENGTH);
    const byAnchor = this.index.get(anchor.length);
    const values = byAnchor?.get(anchor);
    if (!byAnchor || !values?.delete(value)) return;
    this.count -= 1;
    if (values.size === 0) byAnchor.delete(anchor);
    if (byAnchor.size === 0) this.index.delete(anchor.length);
  }

  spansIn(text: string): Span[] {
    if (this.count === 0 || text.length === 0) return [];
    const found: Array<[number, number]> = [];
    for (const [anchorLength, byAnchor] of this.index) {
      for (let end = anchorLength; end <= text.length; end += 1) {
        const values = byAnchor.get(text.slice(end - anchorLength, end));
        if (!values) continue;
        for (const value of values) {
          const start = end - value.length;
          if (start >= 0 && text.startsWith(value, start)) found.push([start, end]);
        }
      }
    }
    return merged(found);
  }
}

/** Overlapping spans joined; spans that only touch stay apart, so `s1s2` still shows two masks. */
function merged(spans: Array<[number, number]>): Span[] {
  if (spans.length < 2) return spans;
  spans.sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [spans[0]];
  for (const [start, end] of spans.slice(1)) {
    const last = out[out.length - 1];
    if (start < last[1]) last[1] = Math.max(last[1], end);
    else out.push([start, end]);
  }
  return out;
}
