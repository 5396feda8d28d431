import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleControlRequest } from './controlApi';
import { sendError, sendJson } from './httpIo';
import { handleOAuthRequest, isOAuthPath } from './oauth/oauthApi';
import { resolveSandboxOptions } from './options';
import { handleProviderRequest } from './providerApi';
import { SandboxState } from './sandboxState';
import type { SandboxOptions } from './options';

export { SANDBOX_ENTITIES } from './entities';
export type { SandboxEntity } from './entities';
export type { SandboxOptions, SandboxOAuthOptions } from './options';

export interface RunningSandbox {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:7072. */
  url: string;
  port: number;
  apiKey: string;
  /** Stops listening, drops open connections and cuts short any delayed responses. */
  close(): Promise<void>;
}

/**
 * Starts the simulated commerce provider on real HTTP: the provider API under /v1 and the
 * control API under /_sandbox (see docs/sandbox.md). Bad options reject with a configuration
 * error naming the option.
 */
export async function startSandbox(options?: SandboxOptions): Promise<RunningSandbox> {
  const resolved = resolveSandboxOptions(options);
  const state = new SandboxState(resolved);
  // Delayed responses (fault slowMs) are released early on close instead of holding it up.
  const pendingDelays = new Set<() => void>();
  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer);
        pendingDelays.delete(release);
        resolve();
      };
      const timer = setTimeout(release, ms);
      pendingDelays.add(release);
    });

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox.local');
    const handled =
      url.pathname === '/v1' || url.pathname.startsWith('/v1/')
        ? handleProviderRequest(state, req, res, url, delay)
        : isOAuthPath(url.pathname)
          ? handleOAuthRequest(state.oauth, req, res, url)
          : url.pathname.startsWith('/_sandbox/')
            ? handleControlRequest(state, req, res, url)
            : Promise.resolve(sendJson(res, 404, { error: `No route ${url.pathname}; the provider API is under /v1, OAuth under /oauth, the control API under /_sandbox.` }));
    handled.catch((error: unknown) => {
      if (!res.headersSent) sendError(res, error);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(resolved.port, resolved.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    apiKey: resolved.apiKey,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        state.close();
        for (const release of [...pendingDelays]) release();
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
