import { HttpRequest } from '@azure/functions';

/** What a fetch `Request` takes as its body. */
export type FetchBody = NonNullable<ConstructorParameters<typeof Request>[1]>['body'];

/** Where a request's body comes from: bytes the host already read, or the socket (HTTP streams). */
export interface RequestBody {
  /** The whole body. Called at most once, and never after `fetchInit()`. */
  read(): Promise<Buffer>;
  /** The body of a fetch `Request` over the same bytes, built only when a handler asks for a stream, form data, a Blob or a clone. */
  fetchInit(): { body: FetchBody; duplex?: 'half' };
}

export interface HostRequestInit {
  method: string;
  url: string;
  headers: Record<string, string>;
  params: Record<string, string>;
}

/**
 * The request a handler receives: an @azure/functions HttpRequest (HostHttpRequest below), over a
 * light fetch-like object instead of a fetch `Request`.
 *
 * Why: constructing an undici `Request` (web streams, abort signal) and reading it back through
 * `arrayBuffer()` cost about a fifth of a webhook receipt's CPU on the local host
 * (docs/benchmarks.md). The Functions library itself builds HttpRequest from a native request on
 * its streaming path (`createStreamRequest`), so its getters (url, method, headers, query, params,
 * user) behave exactly as in Azure. The body reads here follow the fetch rules: one read per
 * request (a second throws a TypeError, `bodyUsed` turns true); a stream, form data, a Blob or a
 * clone are served by a real `Request`, built only when a handler asks for one.
 */
export function hostHttpRequest(init: HostRequestInit, body: RequestBody): HttpRequest {
  const nativeRequest = new HostNativeRequest(init.method, init.url, init.headers, body);
  return new HostHttpRequest(init.params, nativeRequest) as unknown as HttpRequest;
}

/**
 * The library's HttpRequest over a native request, as its constructor builds one (`query` from the
 * URL, `params` as given), with its members read from the native request directly, and an
 * instance of the library's class (its prototype chain).
 *
 * Why not `new HttpRequest(...)`: the library is compiled to ES2015, so its private fields are
 * WeakMaps (three entries per request), and each of its body reads wraps the native one in a
 * down-levelled async function. Under load the WeakMap entries made every young-generation
 * collection slow and kept requests alive into the old generation (docs/webhook-intake.md
 * "Objects that outlived their request"). `user` and `clone()` go through the library's own
 * object over the same native request, built when first asked for: they read only the headers
 * and the native request. tests/unit/local/nativeRequest.test.ts holds it to the library's.
 */
class HostHttpRequest {
  readonly query: URLSearchParams;
  readonly params: Record<string, string>;
  readonly #native: HostNativeRequest;
  #built: HttpRequest | undefined;

  constructor(params: Record<string, string>, native: HostNativeRequest) {
    this.query = new URL(native.url).searchParams;
    // As the library's fromNullableMapping: the params object itself, or a fresh {} when empty.
    this.params = Object.keys(params).length > 0 ? params : {};
    this.#native = native;
  }

  get url(): string {
    return this.#native.url;
  }

  get method(): string {
    return this.#native.method;
  }

  get headers(): Headers {
    return this.#native.headers;
  }

  get user(): HttpRequest['user'] {
    return this.#library().user;
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.#native.body;
  }

  get bodyUsed(): boolean {
    return this.#native.bodyUsed;
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#native.arrayBuffer();
  }

  // async, as the library's: a body already read rejects, it does not throw.
  async blob(): Promise<Blob> {
    return this.#native.blob();
  }

  async formData(): Promise<FormData> {
    return this.#native.formData();
  }

  json(): Promise<unknown> {
    return this.#native.json();
  }

  text(): Promise<string> {
    return this.#native.text();
  }

  clone(): HttpRequest {
    return this.#library().clone();
  }

  #library(): HttpRequest {
    // `nativeRequest` is the library's own (untyped) init field.
    this.#built ??= new HttpRequest({ method: this.#native.method, url: this.#native.url, params: this.params, nativeRequest: this.#native } as never);
    return this.#built;
  }
}
Object.setPrototypeOf(HostHttpRequest.prototype, HttpRequest.prototype);

class HostNativeRequest {
  readonly headers: Headers;
  private readonly source: RequestBody | null;
  private used = false;
  private native: Request | undefined;

  constructor(
    readonly method: string,
    readonly url: string,
    headers: Record<string, string>,
    body: RequestBody,
  ) {
    this.headers = new Headers(headers);
    // GET and HEAD carry no body in fetch (the library drops it too, with a warning).
    const bodyless = method === 'GET' || method === 'HEAD';
    this.source = bodyless ? null : body;
  }

  get body(): ReadableStream<Uint8Array> | null {
    // Read already through text()/json()/arrayBuffer(): fetch still hands out the (used, locked)
    // stream rather than throw, and so does the library's request on Azure.
    if (this.used && !this.native) return this.source ? usedStream() : null;
    return this.request().body;
  }

  get bodyUsed(): boolean {
    return this.used || (this.native?.bodyUsed ?? false);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    if (this.native) return this.native.arrayBuffer();
    const bytes = await this.take();
    const copy = new ArrayBuffer(bytes.length);
    new Uint8Array(copy).set(bytes);
    return copy;
  }

  async text(): Promise<string> {
    if (this.native) return this.native.text();
    return (await this.take()).toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  blob(): Promise<Blob> {
    return this.request().blob();
  }

  formData(): Promise<FormData> {
    return this.request().formData();
  }

  clone(): Request {
    return this.request().clone();
  }

  private take(): Promise<Buffer> {
    if (this.used) return Promise.reject(new TypeError('Body is unusable: Body has already been read'));
    this.used = true;
    return this.source?.read() ?? Promise.resolve(Buffer.alloc(0));
  }

  /** A real fetch Request over the same body, for the rarely used parts of the interface. */
  private request(): Request {
    if (!this.native) {
      if (this.used) throw new TypeError('Body is unusable: Body has already been read');
      this.native = new Request(this.url, { method: this.method, headers: this.headers, ...this.source?.fetchInit() } as RequestInit);
    }
    return this.native;
  }
}

/** What fetch's `body` is after the body was read: a stream that is locked and has nothing left. */
function usedStream(): ReadableStream<Uint8Array> {
  const stream = new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
  stream.getReader();
  return stream;
}
