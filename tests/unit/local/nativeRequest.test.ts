import { bufferedHttpRequest } from '../../../local/bufferedRequest';

/** The local host's HttpRequest must behave as the library's over a fetch Request does on Azure. */
describe('the local host request, against fetch semantics', () => {
  const init = { method: 'POST', url: 'http://127.0.0.1/api/x', headers: { 'content-type': 'application/json' }, params: {} };

  it('after text(), body is the used, locked stream (as fetch), not an error; a second read fails as in fetch', async () => {
    const reference = new Request(init.url, { method: 'POST', body: '{"a":1}' });
    await reference.text();
    const request = bufferedHttpRequest({ ...init, body: Buffer.from('{"a":1}') });
    expect(await request.text()).toBe('{"a":1}');
    expect(request.body?.locked).toBe(reference.body?.locked);
    expect(request.body?.locked).toBe(true);
    expect(request.bodyUsed).toBe(true);
    await expect(request.json()).rejects.toThrow(/Body is unusable/);
    await expect(reference.json()).rejects.toThrow(/Body is unusable/);
  });

  it('a GET has no body, read or not', async () => {
    const request = bufferedHttpRequest({ ...init, method: 'GET', body: Buffer.alloc(0) });
    expect(await request.text()).toBe('');
    expect(request.body).toBeNull();
  });
});
