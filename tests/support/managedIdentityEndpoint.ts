import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local managed identity endpoint as App Service and Functions provide it to the app: the
 * IDENTITY_ENDPOINT/IDENTITY_HEADER protocol (api-version 2019-08-01) that @azure/identity's
 * ManagedIdentityCredential speaks when those variables are set. It hands out one token and records
 * which resource and identity (client_id) each request asked for.
 */
export interface ManagedIdentityEndpoint {
  /** The variables that point ManagedIdentityCredential here (set them in process.env). */
  env: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  readonly token: string;
  readonly requests: Array<{ resource?: string; clientId?: string }>;
  close(): Promise<void>;
}

export async function startManagedIdentityEndpoint(): Promise<ManagedIdentityEndpoint> {
  const token = `mi-test-token-${randomUUID()}`;
  const header = randomUUID();
  const requests: ManagedIdentityEndpoint['requests'] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    req.resume();
    if (req.headers['x-identity-header'] !== header) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_request', error_description: 'X-IDENTITY-HEADER missing or wrong' }));
      return;
    }
    requests.push({ resource: url.searchParams.get('resource') ?? undefined, clientId: url.searchParams.get('client_id') ?? undefined });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: token, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource: url.searchParams.get('resource'), token_type: 'Bearer' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    env: { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: header },
    token,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
