import type { HttpRequest } from '@azure/functions';
import type { IncomingMessage } from 'node:http';
import { hostHttpRequest, type FetchBody, type HostRequestInit, type RequestBody } from './nativeRequest';

/**
 * A handler's request whose body is still on the socket: what the Functions host hands a function
 * with HTTP streams on (`app.setup({ enableHttpStream: true })`). The handler runs once the headers
 * are in; the body is read only as far as the handler reads it, and never past the host's limit
 * (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT), as the Functions host enforces it on a streamed body too.
 */
export function streamedHttpRequest(init: HostRequestInit, body: StreamedBody): HttpRequest {
  return hostHttpRequest(init, body);
}

export class StreamedBody implements RequestBody {
  /** The handler read past the host's limit: its read failed, and the host answers 413 whatever it returns. */
  overLimit = false;

  /**
   * @param declaredLength the Content-Length that frames the body, if any (not with chunked framing)
   */
  constructor(
    private readonly req: IncomingMessage,
    private readonly maxBytes: number,
    private readonly declaredLength: number | undefined,
    /** Called before the first read: sends `100 Continue` to a client that waits for it. */
    private readonly beforeRead: () => void = () => undefined,
  ) {}

  async read(): Promise<Buffer> {
    this.beforeRead();
    // A small body has usually arrived whole by the time the handler asks (often before the parser
    // has marked the request complete): take it in one piece, as cheaply as the host that read it
    // before the handler ran.
    if (this.req.complete || this.req.readableLength === this.declaredLength) return this.within(this.req.read() ?? Buffer.alloc(0));
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of this.chunks()) {
      chunks.push(chunk);
      total += chunk.length;
    }
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
  }

  /**
   * A fetch body over the socket, as the library's `createStreamRequest` builds it over the proxied
   * request. Cancelling the stream destroys the request and its socket, as on Azure, where that
   * socket is the proxy connection the answer goes back on: a handler must stop reading, not cancel.
   */
  fetchInit(): { body: FetchBody; duplex: 'half' } {
    return { body: this.chunks() as unknown as FetchBody, duplex: 'half' };
  }

  private within(bytes: Buffer): Buffer {
    if (bytes.length > this.maxBytes) this.refuse();
    return bytes;
  }

  private async *chunks(): AsyncGenerator<Buffer> {
    this.beforeRead();
    let total = 0;
    let ended = false;
    try {
      // Not destroyed when the loop stops early: past the limit the host still has to answer 413.
      for await (const chunk of this.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > this.maxBytes) this.refuse();
        yield chunk;
      }
      ended = true;
    } finally {
      if (!ended && !this.overLimit) this.req.destroy();
    }
  }

  private refuse(): never {
    this.overLimit = true;
    throw new RangeError(`The request body is larger than ${this.maxBytes} bytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT).`);
  }
}
