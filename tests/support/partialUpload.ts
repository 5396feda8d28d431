import { connect } from 'node:net';

export interface PartialUploadOptions {
  port: number;
  path: string;
  /** Sent as given: a `content-length` larger than `send` announces a body that never comes in full. */
  headers: Record<string, string>;
  /** The part of the body sent before waiting for the answer (as 64 KB chunks when `transfer-encoding: chunked`; never the last chunk). */
  send: Buffer;
  /** How long to wait for an answer after sending. Default 3000 ms. */
  answerWithinMs?: number;
}

export interface PartialUploadResult {
  /** 0 when no answer came in time: the server was still waiting for the rest of the body. */
  status: number;
  headers: Record<string, string>;
  /** The server closed the connection within a second of its answer, so it reads no more of it. */
  serverClosed: boolean;
  /** Milliseconds from the last byte sent to the answer's head. */
  answeredAfterMs: number;
}

/**
 * A POST on a raw socket that sends only part of its body, then waits for an answer without
 * sending more: an answer proves the server decided without the rest, which a server that reads
 * the whole body first would still be waiting for.
 */
export function partialUpload(options: PartialUploadOptions): Promise<PartialUploadResult> {
  const chunked = /chunked/i.test(options.headers['transfer-encoding'] ?? '');
  const head = [`POST ${options.path} HTTP/1.1`, 'host: 127.0.0.1', ...Object.entries(options.headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
  return new Promise((resolve, reject) => {
    const socket = connect(options.port, '127.0.0.1');
    let received = '';
    let sentAt = 0;
    let answered: PartialUploadResult | undefined;
    const finish = (serverClosed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answered ? { ...answered, serverClosed } : { status: 0, headers: {}, serverClosed, answeredAfterMs: Date.now() - sentAt });
    };
    let timer = setTimeout(() => finish(false), options.answerWithinMs ?? 3000);
    socket.on('error', (error: NodeJS.ErrnoException) => (answered ? finish(true) : reject(error)));
    socket.on('close', () => finish(true));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (answered || end < 0) return;
      const [statusLine, ...lines] = received.slice(0, end).split('\r\n');
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      answered = { status: Number(statusLine.split(' ')[1]), headers, serverClosed: false, answeredAfterMs: Date.now() - sentAt };
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), 1000);
    });
    socket.on('connect', () => {
      socket.write(`${head}\r\n\r\n`, 'latin1');
      for (let at = 0; at < options.send.length; at += 65_536) {
        const part = options.send.subarray(at, at + 65_536);
        socket.write(chunked ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]) : part);
      }
      sentAt = Date.now();
    });
  });
}
