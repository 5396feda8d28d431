import { HttpRequest } from '@azure/functions';

/**
 * The request a handler receives: a real @azure/functions HttpRequest, built over a view of the
 * bytes the host already read instead of a fetch `Request`.
 *
 * Why: constructing an undici `Request` (web streams, abort signal) and reading it back through
 * `arrayBuffer()` cost about a fifth of a webhook receipt's CPU on the local host
 * (docs/benchmarks.md). The Functions library itself builds HttpRequest from a native request on
 * its streaming path (`createStreamRequest`), so its getters (url, method, headers, query, params,
 * user) behave exactly as in Azure. The body reads here follow the fetch rules: one read per
 * request (a second throws a TypeError, `bodyUsed` turns true); a stream, form data, a Blob or a
 * clone are served by a real `Request`, built only when a handler asks for one.
 */
export function bufferedHttpRequest(init: {
  method: string;
  url: string;
  headers: Record<string, string>;
  params: Record<string, string>;
  body: Buffer;
}): HttpRequest {
  const nativeRequest = new BufferedNativeRequest(init.method, init.url, init.headers, init.body);
  // `nativeRequest` is the library's own (untyped) init field; the query comes from the URL, as there.
  return new HttpRequest({ method: init.method, url: init.url, params: init.params, nativeRequest } as never);
}

class BufferedNativeRequest {
  readonly headers: Headers;
  private readonly bytes: Buffer | null;
  private used = false;
  private native: Request | undefined;

  constructor(
    readonly method: string,
    readonly url: string,
    headers: Record<string, string>,
    body: Buffer,
  ) {
    this.headers = new Headers(headers);
    // GET and HEAD carry no body in fetch (the library drops it too, with a warning).
    const bodyless = method === 'GET' || method === 'HEAD';
    this.bytes = bodyless ? null : body;
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.request().body;
  }

  get bodyUsed(): boolean {
    return this.used || (this.native?.bodyUsed ?? false);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    if (this.native) return this.native.arrayBuffer();
    const bytes = this.take();
    const copy = new ArrayBuffer(bytes.length);
    new Uint8Array(copy).set(bytes);
    return copy;
  }

  async text(): Promise<string> {
    if (this.native) return this.native.text();
    return this.take().toString('utf8');
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

  private take(): Buffer {
    if (this.used) throw new TypeError('Body is unusable: Body has already been read');
    this.used = true;
    return this.bytes ?? Buffer.alloc(0);
  }

  /** A real fetch Request over the same bytes, for the rarely used parts of the interface. */
  private request(): Request {
    if (!this.native) {
      if (this.used) throw new TypeError('Body is unusable: Body has already been read');
      this.native = new Request(this.url, { method: this.method, headers: this.headers, body: this.bytes ?? undefined });
    }
    return this.native;
  }
}
