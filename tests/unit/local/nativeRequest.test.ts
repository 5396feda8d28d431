import { HttpRequest } from '@azure/functions';
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

/**
 * The host builds its HttpRequest without the library's constructor (local/nativeRequest.ts,
 * HostHttpRequest): it must still be the library's class and read as the library's own object over
 * the same request does.
 */
describe('the local host request, against the library\'s own HttpRequest', () => {
  const principal = Buffer.from(JSON.stringify({ identityProvider: 'aad', userId: 'u1', userDetails: 'ada@example.com', userRoles: ['anonymous', 'authenticated'] })).toString('base64');
  const init = {
    method: 'POST',
    url: 'http://127.0.0.1/api/hooks/c1?a=1&b=two&a=3',
    headers: { 'content-type': 'application/json', 'x-ms-client-principal': principal, 'x-ms-client-principal-idp': 'aad' },
    params: { connectionId: 'c1' },
  };
  const body = '{"hello":"world"}';
  const reference = () => new HttpRequest({ method: init.method, url: init.url, headers: init.headers, params: init.params, body: { string: body } });

  it('is an instance of the library\'s HttpRequest, with the same url, method, headers, query, params and user', () => {
    const request = bufferedHttpRequest({ ...init, body: Buffer.from(body) });
    const library = reference();
    expect(request).toBeInstanceOf(HttpRequest);
    expect(request.url).toBe(library.url);
    expect(request.method).toBe(library.method);
    expect([...request.headers]).toEqual([...library.headers]);
    expect([...request.query]).toEqual([...library.query]);
    expect(request.params).toEqual(library.params);
    expect(request.user).toEqual(library.user);
    expect(request.user?.id).toBe('u1');
    // The same own fields (the library keeps the rest private).
    expect(Object.keys(request)).toEqual(Object.keys(library));
    // The params object itself, as the library's; without params, a fresh empty one.
    expect(request.params).toBe(init.params);
    const empty = {};
    const bare = bufferedHttpRequest({ ...init, params: empty, body: Buffer.alloc(0) });
    expect(bare.params).toEqual({});
    expect(bare.params).not.toBe(empty);
  });

  it('shadows every member of the library\'s prototype (whose private fields it does not have), so each one answers', async () => {
    const request = bufferedHttpRequest({ ...init, body: Buffer.from(body) });
    const members = Object.getOwnPropertyNames(HttpRequest.prototype).filter((name) => name !== 'constructor');
    const own = Object.getOwnPropertyNames(Object.getPrototypeOf(request));
    expect(members.filter((name) => !own.includes(name))).toEqual([]);
    for (const name of members) {
      const descriptor = Object.getOwnPropertyDescriptor(HttpRequest.prototype, name)!;
      if (descriptor.get) expect(() => (request as unknown as Record<string, unknown>)[name]).not.toThrow();
    }
  });

  it('after the body was read, blob() and formData() reject (as the library\'s), never throw', async () => {
    const request = bufferedHttpRequest({ ...init, body: Buffer.from(body) });
    await request.text();
    for (const read of ['blob', 'formData'] as const) {
      let pending: Promise<unknown> | undefined;
      expect(() => {
        pending = request[read]();
      }).not.toThrow();
      await expect(pending).rejects.toThrow(/unusable/);
    }
  });

  it('reads the body as the library\'s does: text, json, arrayBuffer and blob, once; clone keeps the body readable', async () => {
    for (const read of ['text', 'json', 'arrayBuffer', 'blob'] as const) {
      const request = bufferedHttpRequest({ ...init, body: Buffer.from(body) });
      const library = reference();
      const [mine, theirs] = [await request[read](), await library[read]()];
      if (read === 'arrayBuffer') expect(Buffer.from(mine as ArrayBuffer)).toEqual(Buffer.from(theirs as ArrayBuffer));
      else if (read === 'blob') expect(await (mine as Blob).text()).toBe(await (theirs as Blob).text());
      else expect(mine).toEqual(theirs);
      expect(request.bodyUsed).toBe(library.bodyUsed);
      await expect(request.text()).rejects.toThrow(/Body is unusable/);
    }
    const request = bufferedHttpRequest({ ...init, body: Buffer.from(body) });
    const copy = request.clone();
    expect(copy).toBeInstanceOf(HttpRequest);
    expect(await copy.json()).toEqual({ hello: 'world' });
    expect(await request.text()).toBe(body);
    expect(copy.params).toEqual(init.params);
  });
});
