import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { Harness } from '../support/harness';

/**
 * Deletions that arrive out of order, on the real receiver and worker, with both record stores:
 * a delete received before an older create of its record, a delete newer than a tombstone a sweep
 * left, and a same-second update received after a delete (GitHub stamps `issues.deleted` with the
 * issue's last `updated_at`). None of them may bring the record back; a sync run that lists the
 * record still does (shared/core/webhookIntake/eventOrder.ts, applyPage's keepDeletionTimes).
 */
const hmac = (key: string, data: string, enc: 'hex' | 'base64') => createHmac('sha256', key).update(data).digest(enc);

/** Standard Webhooks signature (the sandbox scheme). */
function signStandard(key: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', Buffer.from(key.slice('whsec_'.length), 'base64')).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

describe.each(['local', 'azure'] as const)('webhook deletions out of order (%s stores)', (platform) => {
  let h: Harness;
  const sandboxSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const stripeSecret = `whsec_${randomBytes(18).toString('base64url')}`;
  const githubSecret = randomBytes(18).toString('base64url');

  beforeAll(async () => {
    h = await Harness.start({ platform, sandbox: { recordsPerEntity: 3 } });
    expect((await h.api('PUT', '/api/connections/shop/webhook', { secrets: [sandboxSecret] })).status).toBe(200);
    for (const [provider, settings] of [
      ['stripe', { scheme: 'stripe', secrets: [stripeSecret] }],
      ['github', { scheme: 'github', secrets: [githubSecret] }],
    ] as const) {
      expect((await h.api('POST', '/api/connections', { id: `del-${provider}`, provider, config: {}, credentials: { type: 'none' } })).status).toBe(201);
      expect((await h.api('PUT', `/api/connections/del-${provider}/webhook`, settings)).status).toBe(200);
    }
    await h.waitForRun(await h.startSync('full', 'shop', ['customers']));
  }, 120_000);
  afterAll(async () => h?.close());

  async function post(path: string, headers: Record<string, string>, body: string): Promise<string> {
    const response = await fetch(`${h.hostUrl}/api/webhooks/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const answer = (await response.json()) as { deliveryId: string };
    expect(response.status).toBe(202);
    return answer.deliveryId;
  }
  const sandboxEvent = (type: string, record: Record<string, unknown>) => {
    const body = JSON.stringify({ type, data: { entity: 'customers', record } });
    const id = `msg_${randomBytes(8).toString('hex')}`;
    const t = Math.floor(Date.now() / 1000);
    return post('sandbox/shop', { 'webhook-id': id, 'webhook-timestamp': String(t), 'webhook-signature': signStandard(sandboxSecret, id, t, body) }, body);
  };
  const stripeEvent = (type: string, created: number, object: Record<string, unknown>) => {
    const body = JSON.stringify({ id: `evt_${randomUUID()}`, type, created, data: { object } });
    const t = Math.floor(Date.now() / 1000);
    return post('stripe/del-stripe', { 'stripe-signature': `t=${t},v1=${hmac(stripeSecret, `${t}.${body}`, 'hex')}` }, body);
  };
  const githubEvent = (action: string, issue: Record<string, unknown>) => {
    const body = JSON.stringify({ action, issue });
    return post('github/del-github', { 'x-github-event': 'issues', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': `sha256=${hmac(githubSecret, body, 'hex')}` }, body);
  };

  const records = async (connection: string, entity: string, includeDeleted = true): Promise<any[]> =>
    (await h.api('GET', `/api/connections/${connection}/records?entity=${entity}&limit=1000&includeDeleted=${includeDeleted}`)).body.records;
  const stored = async (connection: string, entity: string, id: string) => (await records(connection, entity)).find((r) => r.externalId === id);
  /** Waits until the delivery was applied or ignored and returns its log entry. */
  const settled = (connection: string, id: string) =>
    h.waitFor(`delivery ${id} settled`, async () => {
      const entry = (await h.api('GET', `/api/connections/${connection}/deliveries?limit=500`)).body.deliveries?.find((d: any) => d.id === id);
      return entry && entry.status !== 'received' ? entry : undefined;
    });

  it('Stripe: a delete received before an older create of its record keeps the record deleted', async () => {
    const created = 1_790_000_000;
    const deletion = await stripeEvent('customer.deleted', created + 10, { id: 'cus_ghost', object: 'customer', deleted: true });
    expect(await settled('del-stripe', deletion)).toMatchObject({ status: 'applied' });
    // A tombstone with the deletion's time, never a live record.
    const tombstone = await stored('del-stripe', 'customers', 'cus_ghost');
    expect(tombstone).toMatchObject({ data: {}, metadata: { deleted: true, lastAction: 'deleted', version: 1, sourceUpdatedAt: new Date((created + 10) * 1000).toISOString() } });
    expect((await records('del-stripe', 'customers', false)).map((r) => r.externalId)).not.toContain('cus_ghost');

    for (const [type, at] of [['customer.created', created], ['customer.updated', created + 5]] as const) {
      const late = await stripeEvent(type, at, { id: 'cus_ghost', object: 'customer', email: 'ghost@example.com' });
      expect(await settled('del-stripe', late)).toMatchObject({ status: 'ignored', detail: expect.stringContaining('Stale') });
    }
    // A create of the deletion's own second (made before it) is stale too.
    const tie = await stripeEvent('customer.updated', created + 10, { id: 'cus_ghost', object: 'customer', email: 'ghost@example.com' });
    expect(await settled('del-stripe', tie)).toMatchObject({ status: 'ignored', detail: expect.stringContaining('deletion of the same time') });
    expect(await stored('del-stripe', 'customers', 'cus_ghost')).toEqual(tombstone);

    // A later state (the record really made again) applies.
    const later = await stripeEvent('customer.created', created + 20, { id: 'cus_ghost', object: 'customer', email: 'again@example.com' });
    expect(await settled('del-stripe', later)).toMatchObject({ status: 'applied' });
    expect(await stored('del-stripe', 'customers', 'cus_ghost')).toMatchObject({ data: { email: 'again@example.com' }, metadata: { deleted: false, lastAction: 'added', version: 2 } });
  });

  it('a tombstone of a record never held is no deletion for a full sync, and a sync that lists the record creates it', async () => {
    const liveBefore = (await records('shop', 'customers', false)).length;
    const ghost = await sandboxEvent('customers.deleted', { id: 'cus_never_here', deleted: true, updated_at: '2027-03-01T10:00:10Z' });
    expect(await settled('shop', ghost)).toMatchObject({ status: 'applied' });
    // A customer made in the sandbox (no webhook sent: no target registered), whose deletion we hear of first.
    const { created } = await h.sandbox<{ created: string[] }>('POST', 'mutate', { entity: 'customers', create: 1 });
    const early = await sandboxEvent('customers.deleted', { id: created[0], deleted: true, updated_at: '2000-01-01T00:00:00Z' });
    expect(await settled('shop', early)).toMatchObject({ status: 'applied' });
    expect((await stored('shop', 'customers', created[0])).metadata).toMatchObject({ deleted: true, version: 1 });
    expect((await records('shop', 'customers', false)).length).toBe(liveBefore);

    const run = await h.waitForRun(await h.startSync('full', 'shop', ['customers']));
    expect(run.state).toBe('done');
    // The provider lists created[0]: a sync run applies what the provider has now. Nothing we had was deleted.
    expect(run.counters).toMatchObject({ created: 1, deleted: 0, failed: 0 });
    expect((await stored('shop', 'customers', created[0])).metadata).toMatchObject({ deleted: false, lastAction: 'added' });
    expect((await stored('shop', 'customers', 'cus_never_here')).metadata).toMatchObject({ deleted: true, version: 1 });
    await h.expectInStep(['customers']);
  });

  it('a delete newer than a tombstone the sweep left moves its time forward: an update made in between stays out', async () => {
    const create = await sandboxEvent('customers.created', { id: 'cus_swept', name: 'Swept', updated_at: '2027-03-01T10:00:00Z' });
    expect(await settled('shop', create)).toMatchObject({ status: 'applied' });
    // The sandbox does not have it: the next full sync's sweep tombstones it, keeping its last time.
    const run = await h.waitForRun(await h.startSync('full', 'shop', ['customers']));
    expect(run.counters).toMatchObject({ deleted: 1 });
    const swept = await stored('shop', 'customers', 'cus_swept');
    expect(swept.metadata).toMatchObject({ deleted: true, sourceUpdatedAt: '2027-03-01T10:00:00Z' });

    const deletion = await sandboxEvent('customers.deleted', { id: 'cus_swept', deleted: true, updated_at: '2027-03-01T10:00:10Z' });
    expect(await settled('shop', deletion)).toMatchObject({ status: 'applied' });
    // Still the same tombstone (its version too: no content changed), with the deletion's time.
    expect((await stored('shop', 'customers', 'cus_swept')).metadata).toMatchObject({ deleted: true, version: swept.metadata.version, sourceUpdatedAt: '2027-03-01T10:00:10Z' });

    const late = await sandboxEvent('customers.updated', { id: 'cus_swept', name: 'Swept, renamed', updated_at: '2027-03-01T10:00:05Z' });
    expect(await settled('shop', late)).toMatchObject({ status: 'ignored', detail: expect.stringContaining('Stale') });
    expect((await stored('shop', 'customers', 'cus_swept')).metadata.deleted).toBe(true);
  });

  it('GitHub: an edit of the same updated_at as the delete, received after it, does not bring the issue back', async () => {
    const issue = { id: 555, number: 9, title: 'edited title', state: 'open', updated_at: '2027-03-01T10:00:05Z' };
    expect(await settled('del-github', await githubEvent('opened', { ...issue, title: 'first title', updated_at: '2027-03-01T10:00:00Z' }))).toMatchObject({ status: 'applied' });
    expect(await settled('del-github', await githubEvent('deleted', issue))).toMatchObject({ status: 'applied' });
    expect((await stored('del-github', 'issues', '555')).metadata.deleted).toBe(true);

    const edit = await githubEvent('edited', issue);
    expect(await settled('del-github', edit)).toMatchObject({ status: 'ignored', detail: expect.stringContaining('deletion of the same time') });
    expect((await stored('del-github', 'issues', '555')).metadata.deleted).toBe(true);
    // The same deletion sent again (another delivery) has nothing to add.
    expect(await settled('del-github', await githubEvent('deleted', issue))).toMatchObject({ status: 'ignored', detail: expect.stringContaining('deletion of the same time') });

    // And the delete of an issue received before its own `opened`.
    expect(await settled('del-github', await githubEvent('deleted', { ...issue, id: 556 }))).toMatchObject({ status: 'applied' });
    const opened = await githubEvent('opened', { ...issue, id: 556, updated_at: '2027-03-01T10:00:00Z' });
    expect(await settled('del-github', opened)).toMatchObject({ status: 'ignored', detail: expect.stringContaining('Stale') });
    expect((await stored('del-github', 'issues', '556')).metadata).toMatchObject({ deleted: true, version: 1 });
  });
});
