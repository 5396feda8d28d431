import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { selfSignedCertificate } from './selfSignedCertificate';

/** One Application Insights envelope as the exporter sends it (Breeze schema). */
export interface Envelope {
  name: string;
  time: string;
  tags?: Record<string, string>;
  data?: { baseType?: string; baseData?: Record<string, unknown> };
}

/**
 * A local Application Insights ingestion endpoint: accepts the exporter's POST /v2.1/track (JSON
 * array, gzip or plain) over HTTPS (the exporter only speaks HTTPS) and keeps every envelope.
 */
export interface IngestionCollector {
  connectionString: string;
  /** PEM to trust (the exporter's tlsOptions.ca). */
  ca: string;
  readonly envelopes: Envelope[];
  readonly requests: number;
  /** The Authorization header of each request, in order (undefined when there was none). */
  readonly authorizations: Array<string | undefined>;
  close(): Promise<void>;
}

export async function startIngestionCollector(): Promise<IngestionCollector> {
  const { key, cert } = selfSignedCertificate();
  const envelopes: Envelope[] = [];
  let requests = 0;
  const authorizations: Array<string | undefined> = [];
  const server: Server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests += 1;
      authorizations.push(req.headers.authorization);
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const text = body.toString('utf8');
      let received: Envelope[] = [];
      try {
        const parsed = JSON.parse(text) as Envelope | Envelope[];
        received = Array.isArray(parsed) ? parsed : [parsed];
      } catch {
        received = text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Envelope);
      }
      envelopes.push(...received);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: received.length, itemsAccepted: received.length, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    connectionString: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:${port}/`,
    ca: cert,
    envelopes,
    authorizations,
    get requests() {
      return requests;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
