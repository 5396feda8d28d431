import { toWebhookRequest } from '../../../shared/webhooks/request';

/**
 * The request every scheme verifies against (shared/webhooks/request.ts). Its lazily parsed URL
 * lives on the class, not on each object: an object literal with a getter made a new function,
 * and so a new hidden class in the old generation, per request, which kept every request
 * reachable through young-generation collections (docs/webhook-intake.md).
 */
describe('toWebhookRequest', () => {
  const input = (url: string) => ({ method: 'post', url, headers: { 'Webhook-Id': 'msg_1' }, rawBody: '{"a":1}', now: 1_700_000_000 });

  it('normalises the method, keeps the URL string as given, reads headers case-insensitively and the body as bytes', () => {
    const request = toWebhookRequest(input('https://example.com/hooks?x=1'));
    expect(request.method).toBe('POST');
    expect(request.url).toBe('https://example.com/hooks?x=1');
    expect(request.headers.has('webhook-id')).toBe(true);
    expect(request.body).toEqual(Buffer.from('{"a":1}'));
    expect(request.now).toBe(1_700_000_000);
  });

  it('parses the URL once, when asked, against a placeholder origin for a path, and gives undefined for one that does not parse', () => {
    const request = toWebhookRequest(input('/api/webhooks/twilio/c1?a=b'));
    const parsed = request.parsedUrl;
    expect(parsed?.pathname).toBe('/api/webhooks/twilio/c1');
    expect(parsed?.searchParams.get('a')).toBe('b');
    expect(request.parsedUrl).toBe(parsed);
    expect(toWebhookRequest(input('http://[bad')).parsedUrl).toBeUndefined();
  });

  it('keeps parsedUrl on the prototype: no request carries a getter of its own', () => {
    const [a, b] = [toWebhookRequest(input('/a')), toWebhookRequest(input('/b'))];
    expect(Object.getOwnPropertyDescriptor(a, 'parsedUrl')).toBeUndefined();
    expect(Object.getPrototypeOf(a)).toBe(Object.getPrototypeOf(b));
    expect(typeof Object.getOwnPropertyDescriptor(Object.getPrototypeOf(a), 'parsedUrl')?.get).toBe('function');
  });
});
