import { OAuthClient } from '../../shared/core/credentials/oauthClient';
import { randomUrlSafe, s256Challenge } from '../../shared/core/credentials/pkce';
import { twoWayFor } from '../../shared/core/outbound/registry';
import { Harness } from './harness';

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

/**
 * A user's token pair from a real code grant (PKCE) at the harness's sandbox, obtained outside
 * SyncBridge, as an operator would bring them to the admin API. Its refresh token rotates.
 */
export async function sandboxUserTokens(h: Harness): Promise<{ accessToken: string; refreshToken: string; expiresAt: string }> {
  const verifier = randomUrlSafe(32);
  const redirectUri = 'http://127.0.0.1:1/elsewhere';
  const authorize = new URL(`${h.sandboxUrl}/oauth/authorize`);
  authorize.search = new URLSearchParams({ response_type: 'code', client_id: OAUTH_TEST_CLIENT.clientId, redirect_uri: redirectUri, state: 's', code_challenge: s256Challenge(verifier), code_challenge_method: 'S256', scope: 'read write' }).toString();
  const location = (await fetch(authorize, { redirect: 'manual' })).headers.get('location');
  const code = location ? new URL(location).searchParams.get('code') : null;
  if (!code) throw new Error(`the sandbox's authorize endpoint gave no code (location ${location})`);
  const tokens = await new OAuthClient().exchangeCode({ tokenUrl: `${h.sandboxUrl}/oauth/token`, ...OAUTH_TEST_CLIENT }, { code, redirectUri, codeVerifier: verifier });
  if (!tokens.refreshToken || !tokens.expiresInSeconds) throw new Error('the sandbox issued no refresh token or no lifetime');
  return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: new Date(Date.now() + tokens.expiresInSeconds * 1000).toISOString() };
}

/** The `oauth2` credential body the admin API takes (POST /api/connections, PUT .../credentials) for such tokens. */
export async function adminApiOAuthCredential(h: Harness): Promise<Record<string, unknown>> {
  return { type: 'oauth2', ...(await sandboxUserTokens(h)), tokenUrl: `${h.sandboxUrl}/oauth/token`, ...OAUTH_TEST_CLIENT };
}

/**
 * A two-way (customers) sandbox connection whose OAuth 2 user tokens were given to the admin API
 * with the create (no `config.oauth`: the connect flow cannot run for it), fully synced once.
 */
export async function adminApiOAuthTwoWayConnection(h: Harness, id: string): Promise<void> {
  const created = await h.api('POST', '/api/connections', {
    id,
    provider: 'sandbox',
    entities: [{ name: 'customers', direction: 'both' }],
    config: { baseUrl: h.sandboxUrl },
    credentials: await adminApiOAuthCredential(h),
  });
  if (created.status !== 201) throw new Error(`creating ${id} answered ${created.status}: ${JSON.stringify(created.body)}`);
  const run = await h.waitForRun(await h.startSync('full', id), 30_000);
  if (run.state !== 'done') throw new Error(`the first full sync of ${id} ended ${run.state}`);
}

/**
 * A harness whose sandbox runs OAuth 2 with OAUTH_TEST_CLIENT (tokens valid 10 minutes) and whose
 * held pushes are checked again only every `heldRecheckMs`: long, so that a test sees a held push go
 * out only when something releases it.
 */
export async function startHeldPushHarness(heldRecheckMs: number): Promise<Harness> {
  const h = await Harness.start({ sandbox: { recordsPerEntity: 20, oauth: { ...OAUTH_TEST_CLIENT, accessTokenTtlSeconds: 600 } } });
  twoWayFor(h.services, { retry: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 3 }, heldRecheckMs, random: () => 0.5 });
  return h;
}

/** The held-push suites' re-check interval: long enough that only a release sends a held push in time. */
export const TEN_MINUTES = 600_000;

/** The sandbox customer id of seed number n. */
export const cus = (n: number) => `cus_${String(n).padStart(7, '0')}`;

/** PATCHes a customer's name through the admin API (202 expected); returns its pending push's outbox id. */
export async function patchCustomerName(h: Harness, connectionId: string, n: number, name: string): Promise<string> {
  const written = await h.api('PATCH', `/api/connections/${connectionId}/records/customers/${cus(n)}`, { name });
  if (written.status !== 202) throw new Error(`PATCH of ${cus(n)} answered ${written.status}: ${JSON.stringify(written.body)}`);
  return written.body.pendingPush.outboxId as string;
}

/** The outbox entry once the worker has held it (pending, `lastError` saying what it waits for). */
export function heldEntry(h: Harness, outboxId: string) {
  return h.waitFor(`outbox entry ${outboxId} to be held`, async () => {
    const entry = await h.platform.outbox.get(outboxId);
    return entry?.state === 'pending' && entry.lastError?.startsWith('Waiting for') ? entry : undefined;
  });
}
