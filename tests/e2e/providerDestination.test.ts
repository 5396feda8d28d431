import { twoWayFor } from '../../shared/core/outbound/registry';
import { PRIVATE_ALLOWED, setProviderDestinationPolicy } from '../../shared/http/destinationPolicy';
import { Harness } from '../support/harness';

/**
 * A connection whose provider address the destination policy refuses, on the real stack (admin
 * API, step runner, outbound worker, SQLite): nothing is sent, a run fails with a message naming
 * the host, and a push is a dead letter with reason code `configuration` after one attempt. Had
 * anything tried to connect, the loopback-only test guard would have made it ECONNREFUSED, a
 * `transient` error that retries instead.
 */
describe('a connection whose provider address is refused', () => {
  let h: Harness;
  let connections = 0;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 5 } });
    twoWayFor(h.services, { retry: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 3 }, random: () => 0.5 });
  });
  afterAll(async () => h.close());
  afterEach(() => setProviderDestinationPolicy(PRIVATE_ALLOWED));

  async function connectionTo(baseUrl: string): Promise<string> {
    const id = `dest${(connections += 1)}`;
    const created = await h.api('POST', '/api/connections', {
      id,
      provider: 'sandbox',
      config: { baseUrl },
      credentials: { type: 'apiKey', apiKey: 'sandbox-api-key' },
      entities: [{ name: 'customers', direction: 'both' }],
    });
    expect(created.status).toBe(201);
    return id;
  }

  test('a run on the metadata address fails at once, saying which host and why', async () => {
    const con = await connectionTo('http://169.254.169.254/latest');
    const run = await h.waitForRun(await h.startSync('full', con));
    expect(run.state).toBe('failed');
    expect(run.lastError).toContain("config.baseUrl points at the address 169.254.169.254, a link-local address");
    expect(run.lastError).not.toContain('sandbox-api-key');
  });

  test('a push to the metadata address is a dead letter with reason code configuration after one attempt', async () => {
    const con = await connectionTo('http://169.254.169.254/latest');
    const written = await h.api('POST', `/api/connections/${con}/records/customers`, { name: 'Nowhere', email: `${con}@example.com` });
    expect(written.status).toBe(202);
    const entry = await h.settledOutbox(written.body.pendingPush.outboxId);
    expect(entry).toMatchObject({ state: 'dead', attempts: 1 });
    const conflicts = (await h.api('GET', `/api/conflicts?state=open&connectionId=${con}`)).body.conflicts;
    expect(conflicts).toMatchObject([{ kind: 'retry_exhausted', reasonCode: 'configuration', outboxId: entry.id }]);
    expect(conflicts[0].reason).toContain('169.254.169.254');
    expect(JSON.stringify(conflicts[0])).not.toContain('sandbox-api-key');
  });

  test("under Azure's default policy the loopback sandbox is refused by name; the local default syncs it", async () => {
    const before = (await h.sandbox('GET', 'stats')).total;
    setProviderDestinationPolicy({ allowPrivate: false });
    const refused = await connectionTo(h.sandboxUrl.replace('127.0.0.1', 'localhost'));
    const failed = await h.waitForRun(await h.startSync('full', refused));
    expect(failed.state).toBe('failed');
    expect(failed.lastError).toMatch(/the host localhost \(resolved to (127\.0\.0\.1|::1)\), a loopback address/);
    expect((await h.sandbox('GET', 'stats')).total).toBe(before);

    setProviderDestinationPolicy(PRIVATE_ALLOWED);
    const allowed = await connectionTo(h.sandboxUrl);
    expect((await h.waitForRun(await h.startSync('full', allowed))).state).toBe('done');
  });
});
