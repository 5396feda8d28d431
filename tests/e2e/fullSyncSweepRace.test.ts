import { randomBytes } from 'node:crypto';
import type { RunView } from '../../shared/core/runs/runView';
import { Harness } from '../support/harness';

/**
 * A full run's deletion sweep against writers that store records while the run is going (a
 * webhook, a pushed local create): the run's listing may already have passed the place where
 * such a record would appear, so not seeing it must not make it a tombstone
 * (RecordStore.sweepUnseen, docs/sync-engine.md). Small pages and a slow sandbox keep the run
 * going long after its first entity was listed. Run on SQLite and on Cosmos DB (loopback).
 */
describe.each(['local', 'azure'] as const)('full-run sweep vs records written during the run (%s platform)', (platform) => {
  let h: Harness;
  const secret = `whsec_${randomBytes(24).toString('base64')}`;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 6 }, pageSize: 2, platform });
    expect((await h.waitForRun(await h.startSync('full'))).state).toBe('done');
  }, 60_000);
  afterAll(async () => h?.close());
  afterEach(async () => {
    await h.sandbox('POST', 'faults', {});
  });

  const stored = async (connectionId: string, externalId: string) =>
    (await h.api('GET', `/api/connections/${connectionId}/records?entity=customers&limit=1000`)).body.records.find((r: any) => r.externalId === externalId);

  /** Starts a slow full run and waits until its customers are listed while later entities are not. */
  async function slowRunPastCustomers(connectionId: string): Promise<string> {
    await h.sandbox('POST', 'faults', { slowMs: 150 });
    const runId = await h.startSync('full', connectionId);
    await h.waitFor('customers listed, the run still going', async () => {
      const run = await h.run(runId);
      return run.entities.find((e) => e.entity === 'customers')?.status === 'done' && !run.finishedAt;
    });
    return runId;
  }

  const customers = (run: RunView) => run.entities.find((e) => e.entity === 'customers')!;

  test('a customer created at the provider and applied by its webhook mid-run survives the sweep; one deleted before the run, with no webhook, is swept', async () => {
    // Deleted before the webhook is registered: nothing tells SyncBridge but the full run's absence.
    const { deleted: [gone] } = await h.sandbox<{ deleted: string[] }>('POST', 'mutate', { entity: 'customers', delete: 1 });
    expect((await h.api('PUT', '/api/connections/shop/webhook', { secrets: [secret] })).status).toBe(200);
    await h.sandbox('POST', 'webhooks', { url: `${h.hostUrl}/api/webhooks/sandbox/shop`, secret, entities: ['customers'] });

    const runId = await slowRunPastCustomers('shop');
    const { created: [fresh] } = await h.sandbox<{ created: string[] }>('POST', 'mutate', { entity: 'customers', create: 1 });
    await h.waitFor('the webhook applied', async () => (await stored('shop', fresh))?.metadata.deleted === false);
    expect((await h.run(runId)).finishedAt).toBeFalsy(); // the write really landed mid-run

    const run = await h.waitForRun(runId);
    expect(run.state).toBe('done');
    expect(customers(run).counters.deleted).toBe(1);
    expect(await h.sandbox('GET', `records/customers/${fresh}`)).toMatchObject({ id: fresh });
    expect((await stored('shop', fresh)).metadata).toMatchObject({ deleted: false, lastAction: 'added' });
    expect((await stored('shop', gone)).metadata).toMatchObject({ deleted: true, lastAction: 'deleted' });

    // The next full run lists the new customer like any other and still deletes nothing more.
    const next = await h.waitForRun(await h.startSync('full'));
    expect(customers(next).counters).toMatchObject({ created: 0, deleted: 0 });
    await h.expectInStep();
    await h.sandbox('DELETE', 'webhooks');
  });

  test('a local create pushed to the provider mid-run survives the sweep of a two-way connection', async () => {
    const con = 'two-way-sweep';
    const made = await h.api('POST', '/api/connections', {
      id: con,
      provider: 'sandbox',
      config: { baseUrl: h.sandboxUrl, pageSize: 2 },
      credentials: { type: 'apiKey', apiKey: 'sandbox-api-key' },
      entities: [{ name: 'customers', direction: 'both' }, { name: 'products', direction: 'pull' }, { name: 'orders', direction: 'pull' }],
    });
    expect(made.status).toBe(201);
    expect((await h.waitForRun(await h.startSync('full', con))).state).toBe('done');

    const runId = await slowRunPastCustomers(con);
    const local = await h.api('POST', `/api/connections/${con}/records/customers`, { name: 'Made Mid Run', email: 'made.mid.run@example.com' });
    expect(local.status).toBe(202);
    expect(await h.settledOutbox(local.body.pendingPush.outboxId)).toMatchObject({ state: 'done' });
    const remote = (await h.sandbox('GET', 'dump')).customers.find((c: { email: string }) => c.email === 'made.mid.run@example.com');
    expect((await h.run(runId)).finishedAt).toBeFalsy(); // the push and its record landed mid-run

    const run = await h.waitForRun(runId);
    expect(run.state).toBe('done');
    expect(customers(run).counters.deleted).toBe(0);
    expect((await stored(con, remote.id)).metadata).toMatchObject({ deleted: false });
  });
});
