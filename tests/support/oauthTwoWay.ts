import type { Harness } from './harness';

/** The sandbox OAuth client the two-way reauthorization suites use. */
export const OAUTH_TEST_CLIENT = { clientId: 'syncbridge-e2e', clientSecret: 'e2e-client-secret-5c1e0b7a93d2' };

/** The connect flow as a browser runs it: fetch follows the 302s to the sandbox and back. */
export function connectThroughBrowser(h: Harness, id: string): Promise<Response> {
  return fetch(`${h.hostUrl}/api/connect/sandbox?connection=${id}`, { headers: { 'x-api-key': h.apiKey, accept: 'application/json' } });
}

/**
 * A two-way (customers) sandbox connection authorized through the OAuth connect flow with
 * OAUTH_TEST_CLIENT, fully synced once. The harness's sandbox must run OAuth with that client.
 */
export async function oauthTwoWayConnection(h: Harness, id: string): Promise<void> {
  const created = await h.api('POST', '/api/connections', {
    id,
    provider: 'sandbox',
    entities: [{ name: 'customers', direction: 'both' }],
    config: {
      baseUrl: h.sandboxUrl,
      oauth: { authorizeUrl: `${h.sandboxUrl}/oauth/authorize`, tokenUrl: `${h.sandboxUrl}/oauth/token`, clientId: OAUTH_TEST_CLIENT.clientId, scopes: ['read', 'write'] },
    },
  });
  if (created.status !== 201) throw new Error(`creating ${id} answered ${created.status}`);
  const secret = await h.api('PUT', `/api/connections/${id}/oauth-client-secret`, { clientSecret: OAUTH_TEST_CLIENT.clientSecret });
  if (secret.status !== 204) throw new Error(`setting the client secret of ${id} answered ${secret.status}`);
  const connected = await connectThroughBrowser(h, id);
  if (connected.status !== 200) throw new Error(`connecting ${id} answered ${connected.status}`);
  const run = await h.waitForRun(await h.startSync('full', id), 30_000);
  if (run.state !== 'done') throw new Error(`the first full sync of ${id} ended ${run.state}`);
}

/** Revokes the connection's authorization at the sandbox: its next refresh meets invalid_grant. */
export async function revokeAuthorization(h: Harness, id: string): Promise<void> {
  const secret = await h.platform.secrets.get(`connection-${id}-credentials`);
  await h.sandbox('POST', 'oauth/revoke', { refreshToken: JSON.parse(secret!.value).refreshToken });
}
