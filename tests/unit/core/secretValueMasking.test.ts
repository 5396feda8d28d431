import { randomBytes } from 'node:crypto';
import { ManualClock } from '../../../shared/core/manualClock';
import { MASK, maskText } from '../../../shared/core/masking';
import { SecretMatcher } from '../../../shared/core/secretMatcher';
import { SecretValueRegistry } from '../../../shared/core/secretValueRegistry';

/**
 * The obvious way, for comparison: every occurrence of every value by indexOf, overlapping ones
 * joined into one mask, touching ones kept apart.
 */
function referenceMask(text: string, values: string[]): string {
  const found: Array<[number, number]> = [];
  for (const value of values) {
    for (let at = text.indexOf(value); at >= 0; at = text.indexOf(value, at + 1)) found.push([at, at + value.length]);
  }
  found.sort((a, b) => a[0] - b[0]);
  let out = '';
  let copied = 0;
  let maskedTo = -1;
  for (const [start, end] of found) {
    if (start < maskedTo) maskedTo = Math.max(maskedTo, end);
    else {
      out += text.slice(copied, start) + MASK;
      maskedTo = end;
    }
    copied = maskedTo;
  }
  return out + text.slice(copied);
}

const token = (head: string) => `${head}${randomBytes(18).toString('base64url')}`;

describe('masking many registered secret values (shared/core/secretMatcher.ts)', () => {
  it('masks exactly what the obvious every-value scan masks, with 20,000 values of shared heads, shared tails and short ones', () => {
    const values: string[] = [];
    for (let i = 0; i < 19_000; i += 1) values.push(token(i % 2 === 0 ? 'eyJhbGciOiJSUzI1NiJ9.' : 'sbx_at_'));
    for (let i = 0; i < 900; i += 1) values.push(`${token('sk_live_')}-same-tail`); // one index entry for all
    values.push('abc', 'hunter2', 'pw', 'x1');
    const matcher = SecretMatcher.of(values);
    expect(matcher.size).toBe(values.length);

    const pick = (i: number) => values[(i * 7919) % values.length];
    const texts = [
      'nothing secret here, though it mentions sk_live_ and eyJhbGciOiJSUzI1NiJ9. and -same-tail',
      `GET /v1/customers?access_token=${pick(1)}&refresh=${pick(2)} failed`,
      `${pick(3)}${pick(4)}`, // touching: two masks
      `${pick(19_001).slice(0, 20)}${pick(19_002)}`, // shares a tail with hundreds of values
      `user abc typed hunter2 then pw and x1x1 at ${pick(5)}`,
      `${pick(6).slice(0, -3)} is not a secret: one is missing its end`,
      `head${pick(7)}${pick(7)}tail ${pick(8).slice(4)}`,
    ];
    for (const text of texts) expect(maskText(text, matcher)).toBe(referenceMask(text, values));
    expect(maskText(texts[1], matcher)).toBe(`GET /v1/customers?access_token=${MASK}&refresh=${MASK} failed`);
    expect(maskText(texts[2], matcher)).toBe(`${MASK}${MASK}`);
  });

  it('masks the union where one secret ends with the other\'s beginning, leaving no piece of either', () => {
    const [head, tail] = ['tokenAAAAbbbbbbbb', 'bbbbbbbbCCCCsecret'];
    expect(maskText(`x ${head}CCCCsecret y`, [head, tail])).toBe(`x ${MASK} y`);
    expect(maskText(`x ${head}CCCCsecret y`, [tail, head])).toBe(`x ${MASK} y`);
  });

  it('forgets a deleted value and only it, even when others share its index entry', () => {
    const matcher = SecretMatcher.of(['first-shared-tail', 'second-shared-tail', 'ab']);
    matcher.delete('first-shared-tail');
    matcher.delete('ab');
    expect(maskText('first-shared-tail second-shared-tail ab', matcher)).toBe(`first-shared-tail ${MASK} ab`);
    expect(matcher.size).toBe(1);
  });
});

describe('SecretValueRegistry bounds', () => {
  it('never holds more than maxSecretValues values, however many are registered', () => {
    const registry = new SecretValueRegistry({ maxSecretValues: 500, clock: new ManualClock() });
    const values = Array.from({ length: 5000 }, () => token('tok_'));
    for (const value of values) registry.register(value);
    expect(registry.size).toBe(500);
    // The 500 kept are the 500 most recent.
    expect(maskText(values.slice(-500).join(' '), registry)).toBe(Array(500).fill(MASK).join(' '));
    expect(maskText(values[4499], registry)).toBe(values[4499]);
  });

  it('lets values go once their retention has passed, even when nothing else is registered', () => {
    const clock = new ManualClock();
    const registry = new SecretValueRegistry({ secretValueRetentionMs: 1000, clock });
    for (let i = 0; i < 100; i += 1) registry.register(token('tok_'));
    clock.advance(999);
    expect(maskText('nothing', registry)).toBe('nothing');
    expect(registry.size).toBe(100);
    clock.advance(1);
    expect(maskText('nothing', registry)).toBe('nothing');
    expect(registry.size).toBe(0);
  });

  it('says when making room forgot a value still inside its retention', () => {
    const registry = new SecretValueRegistry({ maxSecretValues: 2, clock: new ManualClock() });
    expect(registry.register('value-one')).toBe(false);
    expect(registry.register('value-two')).toBe(false);
    expect(registry.register('value-one')).toBe(false); // already kept: nothing to make room for
    expect(registry.register('value-three')).toBe(true);
  });

  it('refuses bounds that are not positive, naming the option', () => {
    expect(() => new SecretValueRegistry({ secretValueRetentionMs: 0 })).toThrow(/secretValueRetentionMs/);
    expect(() => new SecretValueRegistry({ maxSecretValues: 1.5 })).toThrow(/maxSecretValues/);
    expect(() => new SecretValueRegistry({ maxSecretValues: Number.NaN })).toThrow(/maxSecretValues/);
  });
});
