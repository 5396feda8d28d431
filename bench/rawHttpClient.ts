import { connect, type Socket } from 'node:net';

/**
 * A keep-alive HTTP/1.1 client on a bare socket, for the load generator only: it writes one
 * prepared request and reads one response at a time (a closed loop, as node:http's client with a
 * keep-alive agent does), parsing no more than the status line and Content-Length.
 *
 * Why not node:http: its client (agent, header objects, the incoming-message stream) cost ~100 µs
 * of CPU per request here, as much as the bare server it measures, on a 2-core machine where the
 * load generator's CPU is taken from the server. This one costs a fraction of that, so more of
 * the machine goes to the server under test. It understands only what the bench's servers send:
 * a Content-Length or chunked body, no 1xx, no trailers, no pipelining.
 */
export class RawHttpClient {
  private socket: Socket | null = null;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { done: (status: number) => void; fail: (error: Error) => void } | null = null;

  constructor(private readonly port: number, private readonly host = '127.0.0.1') {}

  /** Sends one request (head and body already serialized) and resolves with the response status. */
  async send(request: Buffer): Promise<number> {
    const socket = this.socket ?? (await this.open());
    return new Promise<number>((done, fail) => {
      this.waiting = { done, fail };
      socket.write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port: this.port, host: this.host, noDelay: true }, () => {
        socket.off('error', reject);
        this.socket = socket;
        resolve(socket);
      });
      socket.once('error', reject);
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (error) => this.failWith(error));
      socket.on('close', () => {
        this.socket = null;
        this.failWith(new Error('The server closed the connection before it answered.'));
      });
    });
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const headEnd = this.buffered.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const head = this.buffered.toString('latin1', 0, headEnd);
    const status = Number(head.slice(9, 12));
    const total = responseLength(head, headEnd + 4, this.buffered);
    if (total === null || this.buffered.length < total) return;
    if (this.buffered.length > total) {
      this.failWith(new Error('The server sent more than one response to one request.'));
      return;
    }
    this.buffered = Buffer.alloc(0);
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.done(status);
  }

  private failWith(error: Error): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.fail(error);
  }
}

/** Serializes a POST with a Content-Length body, keep-alive. */
export function postRequest(path: string, headers: Record<string, string>, body: string): Buffer {
  const bytes = Buffer.from(body);
  let head = `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive\r\ncontent-length: ${bytes.length}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'content-length') head += `${name}: ${value}\r\n`;
  }
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), bytes]);
}

/**
 * The byte length of the response at the start of `buffered` (its head ends at `bodyStart`), or
 * null while a chunked body has not reached its last chunk.
 */
function responseLength(head: string, bodyStart: number, buffered: Buffer): number | null {
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const end = buffered.indexOf('0\r\n\r\n', bodyStart);
    return end < 0 || (end > bodyStart && buffered[end - 1] !== 0x0a) ? null : end + 5;
  }
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  return bodyStart + (length ? Number(length[1]) : 0);
}
