import { credentialServiceFor } from '../../shared/core/credentials/registry';
import type { OAuth2Credentials } from '../../shared/core/credentials/credentialService';
import { twoWayFor } from '../../shared/core/outbound/registry';
import { Harness } from '../support/harness';

const CLIENT = { clientId: 'syncbridge-masking', clientSecret: 'masking-client-secret-5d1e8b07c4' };
const API_KEY = 'sandbox-api-key'; // the harness's `shop` connection and the sandbox's default key

/**
 * Providers quote requests back in their errors: a 4xx body that dumps the headers, a token
 * endpoint whose error_description repeats the refresh token and the client secret. On the real
 * sandbox (its echoCredentials fault and its OAuth echo lever), every place such text lands (run
 * errors, outbox entries, conflicts, API answers, host logs, telemetry) must show our credentials
 * masked and the provider's own words readable. The last test scans everything for every secret,
 * like the OAuth suite's scan.
 */
describe('provider error text never carries the credentials we sent', () => {
  let h: Harness;
  /** Every API answer the tests saw, for the scan. */
  const seen: string[] = [];
  const cus = (n: number) => `cus_${String(n).padStart(7, '0')}`;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 20, oauth: { ...CLIENT, accessTokenTtlSeconds: 3600 } }, pageSize: 10 });
    twoWayFor(h.services, { retry: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 2 }, random: () => 0.5 });
  });
  afterAll(async () => h.close());
  afterEach(async () => {
    await h.sandbox('POST', 'faults', {});
    await h.sandbox('POST', 'oauth/echo', { refuseWith: null });
  });

  async function api(method: string, path: string, body?: unknown) {
    const response = await h.api(method, path, body);
    seen.push(JSON.stringify(response.body ?? ''));
    return response;
  }

  /** A connection on the sandbox's OAuth server, connected through the real connect flow. */
  async function oauthConnection(id: string, direction: 'pull' | 'both' = 'pull'): Promise<OAuth2Credentials> {
    const created = await api('POST', '/api/connections', {
      id,
      provider: 'sandbox',
      entities: [{ name: 'customers', direction }],
      config: {
        baseUrl: h.sandboxUrl,
        oauth: { authorizeUrl: `${h.sandboxUrl}/oauth/authorize`, tokenUrl: `${h.sandboxUrl}/oauth/token`, clientId: CLIENT.clientId, scopes: ['read', 'write'] },
      },
    });
    expect(created.status).toBe(201);
    expect((await api('PUT', `/api/connections/${id}/oauth-client-secret`, { clientSecret: CLIENT.clientSecret })).status).toBe(204);
    const connected = await fetch(`${h.hostUrl}/api/connect/sandbox?connection=${id}`, { headers: { 'x-api-key': h.apiKey, accept: 'application/json' } });
    seen.push(await connected.text());
    expect(connected.status).toBe(200);
    return storedCredential(id);
  }

  async function storedCredential(id: string): Promise<OAuth2Credentials> {
    return JSON.parse((await h.platform.secrets.get(`connection-${id}-credentials`))!.value) as OAuth2Credentials;
  }

  /** Runs a sync to its end and answers the run as the API shows it. */
  async function syncToEnd(connectionId: string) {
    const runId = await h.startSync('full', connectionId, ['customers']);
    await h.waitForRun(runId, 30_000);
    return (await api('GET', `/api/syncs/${runId}`)).body;
  }

  const settled = (outboxId: string) => h.settledOutbox(outboxId);

  test('a 4xx body that echoes the API key fails the run with the provider quoted and the key masked', async () => {
    await h.sandbox('POST', 'faults', { echoCredentials: true });
    const run = await syncToEnd('shop');
    expect(run.state).toBe('failed');
    expect(run.lastError).toMatch(/^The provider rejected GET \/v1\/customers with HTTP 400: \{"echo":\{"authorization":null,"x-api-key":"\*\*\*"\},"error":"Injected fault: the request was refused/);
    expect(JSON.stringify(run)).not.toContain(API_KEY);
  });

  test('a 4xx body that echoes the bearer token fails the run with the token masked', async () => {
    const { accessToken } = await oauthConnection('mask-bearer');
    await h.sandbox('POST', 'faults', { echoCredentials: true });
    const run = await syncToEnd('mask-bearer');
    expect(run.state).toBe('failed');
    expect(run.lastError).toContain('{"echo":{"authorization":"Bearer ***","x-api-key":null},"error":"Injected fault');
    expect(run.entities[0].lastError).toBe(run.lastError);
    expect(JSON.stringify(run)).not.toContain(accessToken);
  });

  test('a push whose provider call is refused with an echo of the bearer token: the outbox entry and the conflict show it masked', async () => {
    const { accessToken } = await oauthConnection('mask-push', 'both');
    expect((await syncToEnd('mask-push')).state).toBe('done');
    await h.sandbox('POST', 'faults', { echoCredentials: true });
    const written = await api('PATCH', `/api/connections/mask-push/records/customers/${cus(3)}`, { name: 'Pushed Into An Echo' });
    expect(written.status).toBe(202);
    const entry = await settled(written.body.pendingPush.outboxId);
    // A 400 is a refusal a person must look at: parked as a validation_error, not retried.
    expect(entry.state).toBe('parked');
    expect(entry.lastError).toContain('"authorization":"Bearer ***"');
    expect(entry.lastError).not.toContain(accessToken);
    const [conflict] = (await api('GET', '/api/conflicts?state=open&connectionId=mask-push')).body.conflicts;
    expect(conflict).toMatchObject({ kind: 'validation_error', outboxId: entry.id, reason: expect.stringContaining('Injected fault: the request was refused') });
    expect(conflict.reason).toContain('"authorization":"Bearer ***"');
    expect(JSON.stringify(conflict)).not.toContain(accessToken);
  });

  test('a token endpoint refusal that echoes the refresh token and the client secret: the run, the sweep and the parking show them masked', async () => {
    const { refreshToken } = await oauthConnection('mask-refresh');
    await h.sandbox('POST', 'oauth/echo', { refuseWith: 'invalid_request' });
    await h.sandbox('POST', 'oauth/expire', { all: true }); // the next /v1 call is a 401, so the worker refreshes
    const run = await syncToEnd('mask-refresh');
    expect(run.state).toBe('failed');
    expect(run.lastError).toMatch(/refused the refresh_token grant with invalid_request \(HTTP 400\): Refused by the echo lever\. client_secret=\*\*\*; grant_type=refresh_token&refresh_token=\*\*\*; Authorization: Basic \*\*\*/);
    expect(run.lastError).not.toContain(refreshToken!);
    expect(run.lastError).not.toContain(CLIENT.clientSecret);

    // The timer's sweep logs each failure with its reason. It looks at the stored expiry (the sweep's
    // window is capped at half a token's lifetime), so the stored token is made to say it has expired too.
    const held = await h.platform.secrets.get('connection-mask-refresh-credentials');
    await h.platform.secrets.set('connection-mask-refresh-credentials', JSON.stringify({ ...JSON.parse(held!.value), expiresAt: new Date(Date.now() - 1000).toISOString() }));
    const sweep = await credentialServiceFor(h.platform).refreshExpiring(7_200_000);
    expect(sweep.failed).toBeGreaterThanOrEqual(1);
    // invalid_grant parks the connection; the event carries the refusal's text as its reason.
    await h.sandbox('POST', 'oauth/echo', { refuseWith: 'invalid_grant' });
    await expect(credentialServiceFor(h.platform).ensureFresh('mask-refresh', { minValidityMs: 7_200_000 })).rejects.toMatchObject({ code: 'auth_failed' });
    expect((await api('GET', '/api/connections/mask-refresh')).body.status).toBe('reauthorization_required');
    await h.platform.telemetry.flush();
    const parked = h.telemetryLines.map((line) => JSON.parse(line)).find((l) => l.name === 'ConnectionReauthorizationRequired' && l.properties?.connectionId === 'mask-refresh');
    expect(parked.properties.reason).toContain('client_secret=***; grant_type=refresh_token&refresh_token=***');
    const swept = h.telemetryLines.filter((line) => line.includes('Token refresh failed.') && line.includes('mask-refresh'));
    expect(swept.length).toBeGreaterThanOrEqual(1);
    for (const line of swept) expect(line).toContain('refresh_token=***');
  });

  test('no credential reaches host logs, telemetry, API answers or stored run, outbox and conflict errors', async () => {
    const secrets = new Set<string>([CLIENT.clientSecret, API_KEY, Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')]);
    const connections = ['mask-bearer', 'mask-push', 'mask-refresh'];
    for (const id of connections) {
      const name = `connection-${id}-credentials`;
      for (const version of await h.platform.secrets.listVersions(name)) {
        const credentials = JSON.parse((await h.platform.secrets.getVersion(name, version))!.value) as OAuth2Credentials;
        for (const value of [credentials.accessToken, credentials.refreshToken, credentials.clientSecret]) if (value) secrets.add(value);
      }
    }
    expect(secrets.size).toBeGreaterThanOrEqual(9);
    const stored: string[] = [];
    for (const id of ['shop', ...connections]) {
      stored.push(JSON.stringify(await h.platform.runs.listByConnection(id)));
      stored.push(JSON.stringify(await h.platform.conflicts.list({ tenantId: 't1', connectionId: id, limit: 100 })));
    }
    const [conflict] = (await h.platform.conflicts.list({ tenantId: 't1', connectionId: 'mask-push', limit: 1 })).conflicts;
    stored.push(JSON.stringify(await h.platform.outbox.get(conflict.outboxId!)));
    await h.platform.telemetry.flush();
    const haystacks = { host: h.hostLines.join('\n'), telemetry: h.telemetryLines.join('\n'), api: seen.join('\n'), stored: stored.join('\n') };
    for (const [where, text] of Object.entries(haystacks)) {
      const leaked = [...secrets].filter((value) => text.includes(value));
      expect({ where, leaked: leaked.map((v) => `${v.slice(0, 6)}…`) }).toEqual({ where, leaked: [] });
    }
    expect(haystacks.stored).toContain('***'); // the errors are there, masked: not absent
  });
});
