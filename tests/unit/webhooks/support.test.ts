import { isSyncBridgeError } from '../../../shared/core/errors';
import { verifyWebhook } from '../../../shared/webhooks';
import { constantTimeEqual, constantTimeEqualSecret, indexOfMatch } from '../../../shared/webhooks/support/constantTime';
import { decodeBase64, decodeHex } from '../../../shared/webhooks/support/encoding';
import { WebhookHeaders } from '../../../shared/webhooks/support/headers';
import { toleranceViolation } from '../../../shared/webhooks/support/timestamps';

describe('WebhookHeaders', () => {
  it('finds headers whatever their case, from a record or a fetch Headers', () => {
    expect(new WebhookHeaders({ 'x-a': 'v' }).single('X-A')).toEqual({ ok: true, value: 'v' });
    expect(new WebhookHeaders(new Headers({ 'X-A': 'v' })).single('x-a')).toEqual({ ok: true, value: 'v' });
  });

  it('reads any Headers-like object, not only the global class', () => {
    class OtherHeaders {
      private readonly inner = new Map([['x-a', 'v']]);
      get(name: string) {
        return this.inner.get(name.toLowerCase()) ?? null;
      }
      forEach(callback: (value: string, name: string) => void) {
        this.inner.forEach((value, name) => callback(value, name));
      }
    }
    expect(new WebhookHeaders(new OtherHeaders() as unknown as Headers).single('X-A')).toEqual({ ok: true, value: 'v' });
  });

  it('reads a fetch Headers through get() without copying it, and still sees repeats', () => {
    const headers = new Headers({ 'X-A': 'v' });
    headers.append('x-b', 'one');
    headers.append('x-b', 'two');
    headers.append('set-cookie', 'a=1');
    headers.append('set-cookie', 'b=2');
    const iterate = jest.spyOn(headers, 'forEach');
    const view = new WebhookHeaders(headers);
    expect(view.single('X-A')).toEqual({ ok: true, value: 'v' });
    expect(view.has('x-missing')).toBe(false);
    expect(view.single('X-B')).toEqual({ ok: false, reason: 'The X-B header appears more than once (its value holds a comma).' });
    expect(iterate).not.toHaveBeenCalled();
    // Set-Cookie is the one header fetch keeps apart when repeated: read by iterating.
    expect(view.single('Set-Cookie', { allowComma: true })).toEqual({ ok: false, reason: 'The Set-Cookie header appears more than once.' });
    expect(iterate).toHaveBeenCalledTimes(1);
  });

  it('answers missing, never throws, for a name no request can carry (a setting with a trailing space) over a fetch Headers', () => {
    const view = new WebhookHeaders(new Headers({ 'x-signature': 'v' }));
    expect(() => new Headers().get('x-signature ')).toThrow(/invalid header name/); // what the view must not let through
    expect(view.single('X-Signature ')).toEqual({ ok: false, reason: 'The X-Signature  header is missing.' });
    expect(view.has('bad name')).toBe(false);
  });

  it('treats a one-element array as the header sent once, and undefined as absent', () => {
    expect(new WebhookHeaders({ 'x-a': ['v'] }).single('x-a')).toEqual({ ok: true, value: 'v' });
    expect(new WebhookHeaders({ 'x-a': undefined }).single('X-A')).toEqual({ ok: false, reason: 'The X-A header is missing.' });
    expect(new WebhookHeaders({ 'x-a': [] }).single('X-A')).toEqual({ ok: false, reason: 'The X-A header is missing.' });
  });

  it('reports the same header under two spellings as sent twice', () => {
    expect(new WebhookHeaders({ 'x-a': 'v', 'X-A': 'v' }).single('X-A')).toEqual({ ok: false, reason: 'The X-A header appears more than once.' });
  });

  it('reports a comma as a joined duplicate unless the header allows commas', () => {
    const headers = new WebhookHeaders({ 'x-a': 'v, w' });
    expect(headers.single('X-A')).toEqual({ ok: false, reason: 'The X-A header appears more than once (its value holds a comma).' });
    expect(headers.single('X-A', { allowComma: true })).toEqual({ ok: true, value: 'v, w' });
  });
});

describe('constant-time comparison', () => {
  it('compares bytes, and rejects different lengths without throwing', () => {
    expect(constantTimeEqual(Buffer.from('abc'), Buffer.from('abc'))).toBe(true);
    expect(constantTimeEqual(Buffer.from('abc'), Buffer.from('abd'))).toBe(false);
    expect(constantTimeEqual(Buffer.from('abc'), Buffer.from('abcd'))).toBe(false);
    expect(constantTimeEqualSecret('token', 'token')).toBe(true);
    expect(constantTimeEqualSecret('token', 'token2')).toBe(false);
  });

  it('reports which expected value matched any provided one', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((x) => Buffer.from(x));
    expect(indexOfMatch([a, b], [c, b])).toBe(1);
    expect(indexOfMatch([a, b], [c])).toBe(-1);
    expect(indexOfMatch([], [a])).toBe(-1);
  });
});

describe('strict decoding', () => {
  it('refuses what Buffer.from would silently repair', () => {
    expect(decodeHex('abz1')).toBeUndefined();
    expect(decodeHex('abc')).toBeUndefined();
    expect(decodeHex('ab', 2)).toBeUndefined();
    expect(decodeBase64('YWJj!')).toBeUndefined();
    expect(decodeBase64('YWJ')).toBeUndefined();
    expect(decodeBase64('YW Jj')).toBeUndefined();
    expect(decodeBase64('YWJj')?.toString()).toBe('abc');
  });
});

describe('timestamp tolerance', () => {
  it('accepts the boundary and names the header beyond it, both ways', () => {
    expect(toleranceViolation('T', 1000, 1300, 300)).toBeUndefined();
    expect(toleranceViolation('T', 1000, 700, 300)).toBeUndefined();
    expect(toleranceViolation('T', 1000, 1301, 300)).toBe('The T header is 301 seconds in the past, outside the 300-second tolerance.');
    expect(toleranceViolation('T', 1000, 699, 300)).toBe('The T header is 301 seconds in the future, outside the 300-second tolerance.');
  });

  it('refuses a `now` in milliseconds as a configuration mistake of the caller', async () => {
    const error = await verifyWebhook('github', { secret: 's', method: 'POST', url: '/', headers: {}, rawBody: '', now: Date.now() }).catch((caught: unknown) => caught);
    expect(isSyncBridgeError(error, 'configuration')).toBe(true);
    expect((error as Error).message).toContain('"now" must be unix seconds');
  });
});
