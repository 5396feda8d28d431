import { connect } from 'node:net';

export interface SlowSenderOptions {
  port: number;
  /** Sent as soon as the socket connects ('' sends nothing: a silent client). */
  first: string;
  /** Then sent one byte every `everyMs` until the server closes (none when omitted): a slowloris. */
  trickle?: string;
  /** Default 50. */
  everyMs?: number;
  /** Sends `first` once more this long after the first answer: a kept-alive connection reused. */
  againAfterMs?: number;
  /** How long to wait for the server to close the connection before giving up on it. */
  giveUpAfterMs: number;
}

export interface SlowSenderResult {
  /** The status of every answer the server sent, in order. */
  statuses: number[];
  /** Milliseconds from the connection to the last byte the server sent; undefined when it sent none. */
  lastReceivedAfterMs?: number;
  /** Milliseconds from the connection to the server closing it; undefined when it was still open at `giveUpAfterMs`. */
  closedAfterMs?: number;
  /** How many bytes of `trickle` went out before the close. */
  trickled: number;
}

/**
 * A client on a raw loopback socket that sends part of a request and then keeps the connection
 * busy as slowly as it likes, to see when (and with what) the server gives up on it.
 */
export function slowSender(options: SlowSenderOptions): Promise<SlowSenderResult> {
  return new Promise((resolve) => {
    const socket = connect(options.port, '127.0.0.1');
    const startedAt = Date.now();
    let received = '';
    let lastReceivedAfterMs: number | undefined;
    let again: NodeJS.Timeout | undefined;
    let trickled = 0;
    let ticker: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearInterval(ticker);
      clearTimeout(giveUp);
      clearTimeout(again);
      socket.destroy();
      const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({ statuses, lastReceivedAfterMs, closedAfterMs: closed ? Date.now() - startedAt : undefined, trickled });
    };
    const giveUp = setTimeout(() => finish(false), options.giveUpAfterMs);
    socket.on('data', (chunk: Buffer) => {
      lastReceivedAfterMs = Date.now() - startedAt;
      if (received === '' && options.againAfterMs !== undefined) again = setTimeout(() => socket.write(options.first, 'latin1'), options.againAfterMs);
      received += chunk.toString('latin1');
    });
    // The server cutting us off mid-write shows as a reset or a broken pipe: a close all the same.
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      if (options.first !== '') socket.write(options.first, 'latin1');
      const trickle = options.trickle ?? '';
      if (trickle === '') return;
      ticker = setInterval(() => {
        if (trickled >= trickle.length) return;
        socket.write(trickle[trickled], 'latin1');
        trickled += 1;
      }, options.everyMs ?? 50);
    });
  });
}
