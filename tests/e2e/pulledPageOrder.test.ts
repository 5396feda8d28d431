import { randomBytes } from 'node:crypto';
import type { RunView } from '../../shared/core/runs/runView';
import type { RecordStore } from '../../shared/ports/recordStore';
import { decodeWebhookSecret, signatureHeader } from '../../sandbox/webhooks/webhookSigning';
import { Harness } from '../support/harness';
import { racing, type RaceHooks } from '../local/racingPlatform';

/**
 * A page a run listed before a webhook changed one of its records, applied after the webhook
 * (docs/sync-engine.md, "A pulled page after a webhook"): the run reads ahead one page
 * (PagePrefetcher, kept up to 30 s), so the page it applies may be older than a state a webhook
 * stored meanwhile. Driven for real: the sandbox over HTTP, its own signed webhooks, the local
 * host's workers; the only lever is a hook on the record store that holds page 1's step (after
 * page 2 was prefetched) until the sandbox's change has been applied by its webhook. Run on
 * SQLite and on Cosmos DB (loopback).
 */
describe.each(['local', 'azure'] as const)('a pulled page applied after a webhook of its records (%s stores)', (platform) => {
  let h: Harness;
  let hooks: RaceHooks;
  const secret = `whsec_${randomBytes(24).toString('base64')}`;

  beforeAll(async () => {
    h = await Harness.start({ platform, pageSize: 2, sandbox: { recordsPerEntity: 8 } });
    expect((await h.waitForRun(await h.startSync('full', 'shop', ['customers']))).state).toBe('done');
    expect((await h.api('PUT', '/api/connections/shop/webhook', { secrets: [secret] })).status).toBe(200);
    hooks = { afterStates: [], afterRead: [], afterWrite: [], afterConflictRead: [] };
    // The host's workers read the store through the platform object: wrap it in place.
    const live = h.platform as { records: RecordStore };
    live.records = racing(live.records, hooks);
  }, 120_000);
  afterAll(async () => h?.close());
  beforeEach(async () => {
    await h.sandbox('POST', 'webhooks', { url: `${h.hostUrl}/api/webhooks/sandbox/shop`, secret, entities: ['customers'] });
  });
  afterEach(async () => {
    hooks.afterStates.length = 0;
    await h.sandbox('DELETE', 'webhooks');
    await h.sandbox('POST', 'clock', { now: null });
  });

  const stored = async (externalId: string) =>
    (await h.api('GET', `/api/connections/shop/records?entity=customers&limit=1000&includeDeleted=true`)).body.records.find((r: any) => r.externalId === externalId);
  const customers = (run: RunView) => run.entities.find((e) => e.entity === 'customers')!;
  /** The live customers in the listing's order (updated_at, then id): with pages of 2, page 2 holds the third and fourth. */
  const pageTwo = async (): Promise<string[]> => {
    const live = (await h.sandbox<{ customers: Array<{ id: string; updated_at: string }> }>('GET', 'dump')).customers;
    live.sort((a, b) => Date.parse(a.updated_at) - Date.parse(b.updated_at) || (a.id < b.id ? -1 : 1));
    return live.slice(2, 4).map((c) => c.id);
  };
  const listed = async () => (await h.sandbox<{ byKind: { list: Record<string, number> } }>('GET', 'stats')).byKind.list['200'] ?? 0;

  const accepted = async () => (await h.sandbox<{ deliveries: Array<{ status: number | null }> }>('GET', 'webhooks/deliveries')).deliveries.filter((d) => d.status === 202).length;

  /**
   * A full customers run whose page 2 is read ahead while page 1 is applied; `change` (a change at
   * the sandbox) runs once the sandbox has served page 2, and page 1's step goes on once the
   * sandbox's webhook for it was accepted. Webhook deliveries and run steps share the connection's
   * session on the sync-inbound queue (first in, first out), so the webhook is applied after page 1
   * and before page 2, whose step takes the page read before the change.
   */
  async function fullRunWithPageTwoListedBefore(change: () => Promise<void>): Promise<RunView> {
    const before = await listed();
    hooks.afterStates.push(async () => {
      await h.waitFor('page 2 read ahead', async () => (await listed()) >= before + 2);
      const sent = await accepted();
      await change();
      await h.waitFor('the webhook accepted', async () => (await accepted()) > sent);
    });
    const run = await h.waitForRun(await h.startSync('full', 'shop', ['customers']));
    expect(hooks.afterStates).toHaveLength(0); // the hook ran
    return run;
  }

  test('a record deleted at the provider after its page was listed stays deleted', async () => {
    const [target] = await pageTwo();
    const run = await fullRunWithPageTwoListedBefore(() => h.sandbox('DELETE', `records/customers/${target}`));
    expect(run.state).toBe('done');
    expect(customers(run).counters).toMatchObject({ created: 0, failed: 0 });
    expect((await stored(target)).metadata).toMatchObject({ deleted: true, lastAction: 'deleted' });
    await h.expectInStep(['customers']);
  });

  test('a webhook update applied after the page was listed is not rolled back by it', async () => {
    const [target] = await pageTwo();
    const run = await fullRunWithPageTwoListedBefore(() => h.sandbox('PATCH', `records/customers/${target}`, { name: 'Renamed After The Listing' }));
    expect(run.state).toBe('done');
    expect(customers(run).counters).toMatchObject({ updated: 0, deleted: 0, failed: 0 });
    expect((await stored(target)).data.name).toBe('Renamed After The Listing');
    await h.expectInStep(['customers']);
  });

  test('two states of the same second: the one the webhook stored after the listing stays', async () => {
    // Providers stamp whole seconds: every change below carries the same updated_at. All customers
    // are changed in that second, so the listing orders them by id and the target stays on page 2.
    const { nextMutationAt: second } = await h.sandbox<{ nextMutationAt: string }>('POST', 'clock', { now: new Date().toISOString() });
    const live = (await h.sandbox<{ customers: unknown[] }>('GET', 'dump')).customers.length;
    await h.sandbox('POST', 'mutate', { entity: 'customers', update: live });
    const [target] = await pageTwo();
    await h.sandbox('PATCH', `records/customers/${target}`, { name: 'First Of The Second' });
    await h.waitFor('the first webhooks applied', async () => {
      const records = (await h.api('GET', '/api/connections/shop/records?entity=customers&limit=1000&includeDeleted=false')).body.records as any[];
      return records.filter((r) => r.metadata.sourceUpdatedAt === second).length === live && records.find((r) => r.externalId === target)?.data.name === 'First Of The Second';
    });
    expect(await pageTwo()).toContain(target);
    const run = await fullRunWithPageTwoListedBefore(() => h.sandbox('PATCH', `records/customers/${target}`, { name: 'Second Of The Second' }));
    expect(run.state).toBe('done');
    const record = await stored(target);
    expect(record.data.name).toBe('Second Of The Second');
    expect(record.metadata.sourceUpdatedAt).toBe((await h.sandbox<any>('GET', `records/customers/${target}`)).updated_at);
    await h.expectInStep(['customers']);
  });

  test('a record the run skips as older than its webhook state counts as seen: the sweep leaves it', async () => {
    const [target] = await pageTwo();
    const current = await stored(target);
    // A webhook ahead of the provider's listing (its state is not listed yet), applied before the run.
    const ahead = new Date(Date.parse(current.metadata.sourceUpdatedAt) + 60_000).toISOString();
    await sendEvent({ type: 'customers.updated', data: { entity: 'customers', record: { ...current.data, name: 'Ahead Of The Listing', updated_at: ahead } } });
    await h.waitFor('the webhook applied', async () => (await stored(target))?.data.name === 'Ahead Of The Listing');

    const run = await h.waitForRun(await h.startSync('full', 'shop', ['customers']));
    expect(run.state).toBe('done');
    expect(customers(run).counters).toMatchObject({ updated: 0, deleted: 0, failed: 0 });
    expect((await stored(target)).metadata).toMatchObject({ deleted: false, sourceUpdatedAt: ahead });
    expect((await stored(target)).data.name).toBe('Ahead Of The Listing');
    // The provider's own later change (its listing catches up) applies as usual.
    await h.sandbox('POST', 'clock', { now: new Date(Date.parse(ahead) + 1000).toISOString() });
    await h.sandbox('PATCH', `records/customers/${target}`, { name: 'Caught Up' });
    await h.waitFor('the provider change applied', async () => (await stored(target))?.data.name === 'Caught Up');
    await h.expectInStep(['customers']);
  });

  test('a record the provider restored after a deletion (a later updated_at) comes back with the next full sync', async () => {
    const [target] = await pageTwo();
    const before = (await stored(target)).metadata.sourceUpdatedAt as string;
    const deletedAt = new Date(Date.parse(before) + 1000).toISOString();
    await sendEvent({ type: 'customers.deleted', data: { entity: 'customers', record: { id: target, deleted: true, updated_at: deletedAt } } });
    await h.waitFor('the deletion applied', async () => (await stored(target))?.metadata.deleted === true);
    // Restored at the provider afterwards, with no webhook for it (targets removed): only the run's
    // listing, stamped after the deletion, tells us.
    await h.sandbox('DELETE', 'webhooks');
    await h.sandbox('POST', 'clock', { now: new Date(Date.parse(deletedAt) + 5_000).toISOString() });
    const restored = await h.sandbox<{ updated_at: string }>('PATCH', `records/customers/${target}`, { name: 'Restored' });

    const run = await h.waitForRun(await h.startSync('full', 'shop', ['customers']));
    expect(run.state).toBe('done');
    expect(customers(run).counters).toMatchObject({ created: 1, failed: 0 });
    expect(await stored(target)).toMatchObject({ data: { name: 'Restored' }, metadata: { deleted: false, lastAction: 'added', sourceUpdatedAt: restored.updated_at } });
    await h.expectInStep(['customers']);
  });

  /** Sends a sandbox event signed with the connection's secret, as the sandbox would. */
  async function sendEvent(event: unknown): Promise<void> {
    const body = JSON.stringify(event);
    const id = `msg_${randomBytes(8).toString('hex')}`;
    const t = Math.floor(Date.now() / 1000);
    const sent = await fetch(`${h.hostUrl}/api/webhooks/sandbox/shop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(t), 'webhook-signature': signatureHeader([decodeWebhookSecret(secret)!], id, t, body) },
      body,
    });
    expect(sent.status).toBe(202);
  }
});
