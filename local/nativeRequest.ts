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
 * The request a handler receives: a real @azure/functions HttpRequest, built over a light
 * fetch-like object instead of a fetch `Request`.
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
  // `nativeRequest` is the library's own (untyped) init field; the query comes from the URL, as there.
  return new HttpRequest({ method: init.method, url: init.url, params: init.params, nativeRequest } as never);
}

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
