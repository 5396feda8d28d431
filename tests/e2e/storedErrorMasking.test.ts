import { randomBytes } from 'node:crypto';
import { emptyCounters, type Run } from '../../shared/core/model';
import { Harness } from '../support/harness';

/**
 * Error text stored by a release that did not mask provider text yet: a run's and an entity's
 * `lastError`, a dead letter's conflict `reason`, a webhook delivery's `detail` and the webhook
 * health's `lastError`, each quoting a secret value this process knows, a Bearer token and a Basic
 * credential. The stores keep it as written; the admin API masks it on the way out
 * (functions/admin/storedErrorText.ts) and shows the rest of the text as stored.
 */
describe('the admin API masks credentials in error text stored by earlier releases', () => {
  let h: Harness;
  const at = new Date().toISOString();
  const secret = `sk_old_release_${randomBytes(8).toString('hex')}`;
  const bearer = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvbGQtcmVsZWFzZSJ9.c2lnbmF0dXJl'; // header.payload.signature
  const basic = Buffer.from('old-user:old-password-1234').toString('base64');
  const stored = (what: string) =>
    `${what}: The provider rejected GET /v1/customers with HTTP 400: {"key":"${secret}","authorization":"Bearer ${bearer}","proxy":"Basic ${basic}"}`;
  const masked = (what: string) => `${what}: The provider rejected GET /v1/customers with HTTP 400: {"key":"***","authorization":"Bearer ***","proxy":"Basic ***"}`;

  function expectMasked(answer: unknown): void {
    const text = JSON.stringify(answer);
    for (const leaked of [secret, bearer, basic]) expect(text).not.toContain(leaked);
  }

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 5 } });
    // As the credential service does with every credential it loads or stores.
    h.platform.telemetry.registerSecretValue(secret);
  });
  afterAll(async () => h.close());

  test("a run's and its entities' lastError", async () => {
    const run: Run = {
      id: 'run_old_release',
      tenantId: 't1',
      connectionId: 'shop',
      kind: 'full',
      trigger: 'api',
      state: 'failed',
      entities: [
        { entity: 'customers', status: 'failed', cursor: null, pages: 2, since: null, highWater: null, total: null, counters: emptyCounters(), attempts: 3, lastError: stored('customers') },
        { entity: 'orders', status: 'done', cursor: null, pages: 1, since: null, highWater: null, total: null, counters: emptyCounters(), attempts: 0, lastError: null },
      ],
      createdAt: at,
      startedAt: at,
      finishedAt: at,
      updatedAt: at,
      lastError: stored('run'),
      resumes: 0,
      version: 0, // the store sets 1
    };
    await h.platform.runs.create(run);

    const one = await h.api('GET', '/api/syncs/run_old_release');
    expect(one.status).toBe(200);
    expect(one.body.lastError).toBe(masked('run'));
    expect(one.body.entities.map((e: { lastError: string | null }) => e.lastError)).toEqual([masked('customers'), null]);
    expectMasked(one.body);

    const list = await h.api('GET', '/api/connections/shop/syncs');
    const listed = list.body.runs.find((r: { runId: string }) => r.runId === 'run_old_release');
    expect(listed).toMatchObject({ lastError: masked('run'), entities: [{ lastError: masked('customers') }, { lastError: null }] });
    expectMasked(list.body);

    // Only the answer is masked: the stored run is as it was written.
    expect((await h.platform.runs.get('run_old_release'))?.lastError).toBe(stored('run'));
  });

  test("a dead letter's and a parked conflict's reason, listed and read", async () => {
    for (const [id, kind] of [['cfl_old_dead', 'retry_exhausted'], ['cfl_old_parked', 'validation_error']] as const) {
      await h.platform.conflicts.open({
        id, tenantId: 't1', connectionId: 'shop', entity: 'customers', externalId: `x_${id}`, outboxId: `out_${id}`, kind, state: 'open',
        reason: stored(id), reasonCode: kind === 'retry_exhausted' ? 'retries_exhausted' : null,
        base: null, local: { name: 'Local' }, remote: { name: 'Remote' }, fields: ['name'], createdAt: at, updatedAt: at,
      });
    }

    const one = await h.api('GET', '/api/conflicts/cfl_old_dead');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: 'cfl_old_dead', kind: 'retry_exhausted', reasonCode: 'retries_exhausted', reason: masked('cfl_old_dead') });
    expectMasked(one.body);

    const list = await h.api('GET', '/api/conflicts?connectionId=shop');
    expect(list.body.conflicts.map((c: { reason: string }) => c.reason).sort()).toEqual([masked('cfl_old_dead'), masked('cfl_old_parked')]);
    expectMasked(list.body);

    expect((await h.platform.conflicts.get('t1', 'cfl_old_dead'))?.reason).toBe(stored('cfl_old_dead'));
  });

  test("a webhook delivery's detail and the webhook health's lastError", async () => {
    await h.platform.deliveries.insert({
      id: 'dlv_old_release', tenantId: 't1', connectionId: 'shop', provider: 'sandbox', webhookId: 'wh_old_release', receivedAt: at, status: 'failed',
      eventType: 'customers.updated', detail: stored('delivery'), headers: {}, body: '{}', replays: 0, updatedAt: at,
    });
    await h.platform.deliveries.recordHealth('shop', 'failed', at, stored('health'));

    const deliveries = await h.api('GET', '/api/connections/shop/deliveries');
    expect(deliveries.status).toBe(200);
    expect(deliveries.body.deliveries.find((d: { id: string }) => d.id === 'dlv_old_release')).toMatchObject({ status: 'failed', detail: masked('delivery') });
    expectMasked(deliveries.body);

    const webhook = await h.api('GET', '/api/connections/shop/webhook');
    expect(webhook.status).toBe(200);
    expect(webhook.body.health).toMatchObject({ failures: 1, lastError: masked('health') });
    expectMasked(webhook.body);

    expect((await h.platform.deliveries.get('dlv_old_release'))?.detail).toBe(stored('delivery'));
    expect((await h.platform.deliveries.health('shop')).lastError).toBe(stored('health'));
  });
});
