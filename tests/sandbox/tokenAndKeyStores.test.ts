import { resolveOAuthOptions } from '../../sandbox/oauth/oauthOptions';
import { s256Challenge } from '../../sandbox/oauth/pkce';
import { OAuthTokenStore } from '../../sandbox/oauth/tokenStore';
import { IdempotencyStore, writeFingerprint } from '../../sandbox/writes/idempotencyStore';
import { ifMatchHolds } from '../../sandbox/writes/preconditions';

/** A clock the test moves by hand, so lifetimes are checked exactly and without waiting. */
function handClock(startMs = Date.UTC(2026, 0, 1)) {
  let nowMs = startMs;
  return { now: () => new Date(nowMs), advance: (ms: number) => (nowMs += ms) };
}

describe('OAuthTokenStore lifetimes', () => {
  const options = resolveOAuthOptions({ clientId: 'c', clientSecret: 's', accessTokenTtlSeconds: 60, authorizationCodeTtlSeconds: 30 });

  it('accepts an access token until the last millisecond of its TTL and reports it expired after', () => {
    const clock = handClock();
    const store = new OAuthTokenStore(options, clock);
    const granted = store.clientCredentials('c', ['read']);
    if (!granted.ok) throw new Error('grant failed');
    clock.advance(59_999);
    expect(store.authenticate(granted.tokens.access_token)).toEqual({ ok: true, clientId: 'c', scopes: ['read'] });
    clock.advance(1);
    expect(store.authenticate(granted.tokens.access_token)).toEqual({ ok: false, reason: 'expired' });
    expect(store.stats().bearer).toEqual({ accepted: 1, rejected: 1 });
  });

  it('refuses a code presented after its lifetime, even with the right verifier', () => {
    const clock = handClock();
    const store = new OAuthTokenStore(options, clock);
    const verifier = 'v'.repeat(43);
    const code = store.issueCode({ clientId: 'c', redirectUri: 'http://x.test/cb', challenge: s256Challenge(verifier), scopes: ['read'] });
    clock.advance(30_000);
    expect(store.exchangeCode({ clientId: 'c', code, redirectUri: 'http://x.test/cb', verifier })).toMatchObject({ ok: false, error: 'invalid_grant' });
  });

  it('refuses a refresh that widens the scope', () => {
    const store = new OAuthTokenStore(options, handClock());
    const verifier = 'w'.repeat(50);
    const code = store.issueCode({ clientId: 'c', redirectUri: 'http://x.test/cb', challenge: s256Challenge(verifier), scopes: ['read'] });
    const granted = store.exchangeCode({ clientId: 'c', code, redirectUri: 'http://x.test/cb', verifier });
    if (!granted.ok) throw new Error('exchange failed');
    expect(store.refresh({ clientId: 'c', refreshToken: granted.tokens.refresh_token!, scopes: ['read', 'write'] })).toMatchObject({ ok: false, error: 'invalid_scope' });
    // A refused request does not spend the token.
    expect(store.refresh({ clientId: 'c', refreshToken: granted.tokens.refresh_token! })).toMatchObject({ ok: true });
  });
});

describe('IdempotencyStore', () => {
  it('forgets a key after its TTL, so the same key then runs as a new request', () => {
    const clock = handClock();
    const store = new IdempotencyStore(1000, clock);
    const fingerprint = writeFingerprint('POST', '/v1/customers', { email: 'a@b.c' });
    store.remember('k', { fingerprint, method: 'POST', path: '/v1/customers', result: { status: 201, body: {} } });
    clock.advance(999);
    expect(store.get('k')?.fingerprint).toBe(fingerprint);
    clock.advance(1);
    expect(store.get('k')).toBeUndefined();
  });

  it('fingerprints requests by method, path and canonical body', () => {
    const base = writeFingerprint('PATCH', '/v1/orders/ord_0000001', { a: 1, b: { c: [1, 2] } });
    expect(writeFingerprint('PATCH', '/v1/orders/ord_0000001', { b: { c: [1, 2] }, a: 1 })).toBe(base);
    expect(writeFingerprint('PATCH', '/v1/orders/ord_0000001', { a: 1, b: { c: [2, 1] } })).not.toBe(base);
    expect(writeFingerprint('PUT', '/v1/orders/ord_0000001', { a: 1, b: { c: [1, 2] } })).not.toBe(base);
  });
});

describe('If-Match', () => {
  const current = { version: 3, updatedAt: '2026-05-01T09:00:00Z' };
  it.each([
    [undefined, true],
    ['*', true],
    ['"3"', true],
    ['3', true],
    ['"2", "3"', true],
    ['W/"3"', false],
    ['"2"', false],
    ['2026-05-01T09:00:00Z', true],
    ['"2026-05-01T09:00:00.000Z"', true],
    ['2026-05-01T08:59:59Z', false],
    ['garbage', false],
  ])('%s holds: %s', (header, holds) => {
    expect(ifMatchHolds(header, current)).toBe(holds);
  });
});
