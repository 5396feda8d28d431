import type { ProviderRecord } from '../../shared/adapters/adapter';
import { sandboxProvider } from '../../shared/adapters/providers/sandbox';
import type { Services } from '../../shared/composition';
import type { JsonObject, SyncRecord } from '../../shared/core/model';
import { LocalChangeService } from '../../shared/core/outbound/localChanges';
import { OutboundService } from '../../shared/core/outbound/outboundService';
import { WebhookApplier } from '../../shared/core/webhookIntake/applier';
import { applyPage } from '../../shared/pipeline/applyPage';
import type { Platform } from '../../shared/ports/platform';
import type { RecordStore } from '../../shared/ports/recordStore';
import type { RunningSandbox } from '../../sandbox/server';
import { ApiClient } from '../support/apiClient';
import { WebhookTestReceiver, newSecret, waitUntil } from '../sandbox/webhookTestReceiver';
import { afterProviderWrite, startRacePlatform, type RaceHooks, type RacePlatform } from './racingPlatform';
import { deliverPush } from './helpers';

/**
 * A local create lives under a temporary id until its push succeeds; then the worker moves it to
 * the id the provider assigned (OutboundService.agree). The provider announces the new record too
 * — a webhook (the sandbox sends one on every change) or a pull page — and that can store it at the
 * new id first, where the admin API shows it and a user may PATCH it. The move must keep what is
 * stored there, retire the temporary id, and lose no local change of either. Each case runs on the
 * SQLite stores and on the Cosmos DB stores (@vercel/cosmosdb-server), against the real sandbox;
 * its webhooks go to a real HTTP receiver and are applied as the webhook worker applies them.
 */
describe.each(['SQLite', 'Cosmos DB'] as const)('moving a pushed create onto a record a webhook or pull stored first (%s)', (store) => {
  let race: RacePlatform;
  let sandbox: RunningSandbox;
  let platform: Platform;
  /** The record store without the hooks. */
  let records: RecordStore;
  let services: Services;
  let hooks: RaceHooks;
  let receiver: WebhookTestReceiver;
  let connections = 0;
  let deliveries = 0;
  const hooked = afterProviderWrite(sandboxProvider);

  beforeAll(async () => {
    race = await startRacePlatform(store, [hooked.adapter]);
    ({ sandbox, platform, records, services, hooks } = race);
    receiver = await WebhookTestReceiver.start();
    await sandboxRequest('POST', 'webhooks', { url: receiver.url, secret: newSecret().secret, entities: ['customers'] });
  });
  afterAll(async () => {
    await race.close();
    await receiver.close();
  });
  afterEach(() => {
    race.clearHooks();
    hooked.clear();
  });

  /** The sandbox's control API (tests/support/apiClient.ts). */
  const sandboxRequest = (method: string, path: string, body?: unknown): Promise<any> => new ApiClient('', sandbox.url, '').sandbox(method, path, body);

  async function setup() {
    const connectionId = `move${(connections += 1)}`;
    const scope = await race.twoWayConnection(connectionId, { default: { kind: 'manual' } });
    const changes = new LocalChangeService(platform);
    const outbound = new OutboundService(platform, services.adapters, { retry: { initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 3 }, random: () => 0.5 });
    // Webhooks and pulls write through the store without the hooks: the hooks belong to agree().
    const direct: Platform = { ...platform, records };
    const email = `move.${connectionId}.${store === 'SQLite' ? 'sqlite' : 'cosmos'}@example.com`;
    const create = () => changes.create(scope, { name: 'Moved Customer', email, currency: 'EUR' });
    const remote = (id: string) => sandboxRequest('GET', `records/customers/${id}`);
    const push = (record: SyncRecord) => deliverPush(platform.outbox, outbound, record);
    const stored = (id: string) => records.get(scope, id);
    const live = async () => (await records.list({ tenantId: 't1', connectionId, entity: 'customers', limit: 10, includeDeleted: false })).records;

    /** The sandbox's webhook event `type` about a record (by id, or by email: ours by default), once it has arrived. */
    const event = async (type: string, about: { id?: string; email?: string } = {}): Promise<{ body: string; record: JsonObject }> => {
      const matches = (webhook: { body: string }) => {
        const { type: actual, data } = JSON.parse(webhook.body) as { type: string; data: { record: JsonObject } };
        return actual === type && (about.id ? data.record.id === about.id : data.record.email === (about.email ?? email));
      };
      await waitUntil(() => receiver.received.some(matches), 5000, `the sandbox's ${type} webhook`);
      const { body } = receiver.received.find(matches)!;
      return { body, record: (JSON.parse(body) as { data: { record: JsonObject } }).data.record };
    };
    /** Applies a received webhook body as the webhook worker does (WebhookApplier, one delivery). */
    const deliver = async (body: string) => {
      const id = `dlv_${connectionId}_${(deliveries += 1)}`;
      const now = new Date().toISOString();
      await direct.deliveries.insert({
        id, tenantId: 't1', connectionId, provider: 'sandbox', webhookId: `wh_${id}`, receivedAt: now, status: 'received',
        eventType: (JSON.parse(body) as { type: string }).type, headers: {}, body, replays: 0, updatedAt: now,
      });
      expect(await new WebhookApplier(direct, services.adapters).apply({ kind: 'webhook', connectionId, deliveryId: id })).toBe('applied');
    };
    /** The provider's record stored by one step of an incremental pull. */
    const pull = async (id: string) => {
      const data = (await remote(id)) as JsonObject & { updated_at: string };
      const page: ProviderRecord[] = [{ externalId: id, updatedAt: data.updated_at, deleted: false, data }];
      await applyPage({ records, scope, runId: `run_${connectionId}`, stepId: `run_${connectionId}:customers:1`, mode: 'incremental', page, now: new Date().toISOString() });
    };
    /** The two ids are linked both ways: the tombstone names where the record went, the record where it came from. */
    const linked = async (temporaryId: string, newId: string) => {
      expect(await stored(temporaryId)).toMatchObject({ deleted: true, movedTo: newId });
      expect((await stored(newId))?.previousIds).toEqual([temporaryId]);
    };
    return { connectionId, scope, changes, create, remote, push, stored, live, event, deliver, pull, linked };
  }

  test('a webhook that stored the new record before the move keeps it: a provider change it carries stays, no duplicate, the temporary id is tombstoned', async () => {
    const s = await setup();
    const created = await s.create();
    let newId = '';
    hooked.next(async () => {
      // The provider has the record; someone changes it there at once, and both webhooks arrive
      // before the worker records the push: the stored copy is newer than the push's answer.
      const announced = await s.event('customers.created');
      newId = String(announced.record.id);
      await s.deliver(announced.body);
      await sandboxRequest('PATCH', `records/customers/${newId}`, { phone: '+1 555 200 0001' });
      await s.deliver((await s.event('customers.updated', { id: newId })).body);
    });
    expect(await s.push(created)).toBe('pushed');
    const atNewId = await s.stored(newId);
    expect(atNewId?.data).toEqual(await s.remote(newId));
    expect(atNewId?.data).toMatchObject({ name: 'Moved Customer', phone: '+1 555 200 0001' });
    expect(atNewId?.lastStepId).toMatch(/^webhook:/); // what the webhook stored, not written over
    expect(atNewId?.pendingPush).toBeUndefined();
    expect(await s.stored(created.externalId)).toMatchObject({ deleted: true });
    expect((await s.stored(created.externalId))?.pendingPush).toBeUndefined();
    expect((await s.live()).map((r) => r.externalId)).toEqual([newId]);
    expect(await platform.outbox.get(created.pendingPush!.outboxId)).toMatchObject({ state: 'done' });
    await s.linked(created.externalId, newId);
    // The link is no change of content: the version and step stamp stay the webhook's.
    expect((await s.stored(newId))?.version).toBe(atNewId!.version);
  });

  test('a pull page that stored the new record before the move keeps it', async () => {
    const s = await setup();
    const created = await s.create();
    let newId = '';
    hooked.next(async () => {
      newId = String((await s.event('customers.created')).record.id);
      await sandboxRequest('PATCH', `records/customers/${newId}`, { phone: '+1 555 200 0002' });
      await s.pull(newId);
    });
    expect(await s.push(created)).toBe('pushed');
    expect(await s.stored(newId)).toMatchObject({ data: { phone: '+1 555 200 0002' }, lastStepId: `run_${s.connectionId}:customers:1` });
    expect(await s.stored(created.externalId)).toMatchObject({ deleted: true });
    expect((await s.live()).map((r) => r.externalId)).toEqual([newId]);
    await s.linked(created.externalId, newId);
    // A later pull that changes the record rewrites it from its state, and keeps the link.
    await sandboxRequest('PATCH', `records/customers/${newId}`, { phone: '+1 555 200 0022' });
    const data = (await s.remote(newId)) as JsonObject & { updated_at: string };
    await applyPage({ records, scope: s.scope, runId: `run2_${s.connectionId}`, stepId: `run2_${s.connectionId}:customers:1`, mode: 'incremental', page: [{ externalId: newId, updatedAt: data.updated_at, deleted: false, data }], now: new Date().toISOString() });
    expect(await s.stored(newId)).toMatchObject({ data: { phone: '+1 555 200 0022' }, previousIds: [created.externalId] });
  });

  test('a PATCH of the new record committed before the move survives, and its push reaches the sandbox', async () => {
    const s = await setup();
    const created = await s.create();
    let newId = '';
    let patched: SyncRecord | undefined;
    hooked.next(async () => {
      const announced = await s.event('customers.created');
      newId = String(announced.record.id);
      await s.deliver(announced.body);
      // The record is in the records API now; a user edits it there.
      patched = (await s.changes.update(s.scope, newId, { notes: 'patched at the new id' })).record;
    });
    expect(await s.push(created)).toBe('pushed');
    const atNewId = await s.stored(newId);
    expect(atNewId?.data).toMatchObject({ name: 'Moved Customer', notes: 'patched at the new id' });
    expect(atNewId?.pendingPush?.outboxId).toBe(patched!.pendingPush!.outboxId);
    expect(await s.stored(created.externalId)).toMatchObject({ deleted: true });
    expect((await s.live()).map((r) => r.externalId)).toEqual([newId]);
    await s.linked(created.externalId, newId);
    expect(await s.push(patched!)).toBe('pushed');
    expect(await s.remote(newId)).toMatchObject({ name: 'Moved Customer', notes: 'patched at the new id' });
    expect((await s.stored(newId))?.pendingPush).toBeUndefined();
    await s.linked(created.externalId, newId); // the PATCH's push kept it
  });

  test('a change of the temporary record made during the push is carried onto the stored record, beside a PATCH of it: both reach the sandbox', async () => {
    const s = await setup();
    const created = await s.create();
    let newId = '';
    let patched: SyncRecord | undefined;
    hooked.next(async () => {
      const announced = await s.event('customers.created');
      newId = String(announced.record.id);
      await s.deliver(announced.body);
      patched = (await s.changes.update(s.scope, newId, { notes: 'patched at the new id' })).record;
      // Meanwhile an edit of the temporary id, which is still live until the move.
      await s.changes.update(s.scope, created.externalId, { phone: '+1 555 200 0004' });
    });
    expect(await s.push(created)).toBe('pushed');
    const atNewId = await s.stored(newId);
    expect(atNewId?.data).toMatchObject({ notes: 'patched at the new id', phone: '+1 555 200 0004' });
    expect(atNewId?.pendingPush).toMatchObject({ op: 'update' });
    expect(await s.stored(created.externalId)).toMatchObject({ deleted: true });
    expect((await s.live()).map((r) => r.externalId)).toEqual([newId]);
    // One entry now pushes both changes; the PATCH's own entry is superseded by it.
    expect(await s.push(patched!)).toBe('superseded');
    expect(await s.push(atNewId!)).toBe('pushed');
    expect(await s.remote(newId)).toMatchObject({ name: 'Moved Customer', notes: 'patched at the new id', phone: '+1 555 200 0004' });
    expect((await s.stored(newId))?.pendingPush).toBeUndefined();
    await s.linked(created.externalId, newId);
  });

  test('a webhook storing the new record between the move\'s read and its write: the move loses, reads again, and keeps it', async () => {
    const s = await setup();
    const created = await s.create();
    let newId = '';
    let patched: SyncRecord | undefined;
    hooked.next(async () => {
      const announced = await s.event('customers.created');
      newId = String(announced.record.id);
      // agree() reads the temporary record, then the new id (nothing there yet) — and then the
      // webhook and a PATCH land, before its write.
      hooks.afterRead.push(
        async () => undefined,
        async () => {
          await s.deliver(announced.body);
          patched = (await s.changes.update(s.scope, newId, { notes: 'patched mid-move' })).record;
        },
      );
    });
    expect(await s.push(created)).toBe('pushed');
    expect(patched).toBeDefined();
    expect(await s.stored(newId)).toMatchObject({ data: { notes: 'patched mid-move' }, pendingPush: { outboxId: patched!.pendingPush!.outboxId } });
    expect(await s.stored(created.externalId)).toMatchObject({ deleted: true });
    expect((await s.live()).map((r) => r.externalId)).toEqual([newId]);
    await s.linked(created.externalId, newId);
    expect(await s.push(patched!)).toBe('pushed');
    expect(await s.remote(newId)).toMatchObject({ notes: 'patched mid-move' });
  });

  test('a tombstone a webhook stored at the new id (deleted at the provider at once) stays; an edit waiting on the temporary id moves over it and is parked, not lost', async () => {
    const s = await setup();
    const plain = await s.create();
    /** After the provider accepted the create: its webhook is applied, then it deletes the record, and that webhook is applied too. */
    const deletedAtOnce = async (email: string): Promise<string> => {
      const announced = await s.event('customers.created', { email });
      const id = String(announced.record.id);
      await s.deliver(announced.body);
      await sandboxRequest('DELETE', `records/customers/${id}`);
      await s.deliver((await s.event('customers.deleted', { id })).body);
      return id;
    };
    let plainId = '';
    hooked.next(async () => {
      plainId = await deletedAtOnce(String(plain.data.email));
    });
    expect(await s.push(plain)).toBe('pushed');
    expect(await s.stored(plainId)).toMatchObject({ deleted: true, lastStepId: expect.stringMatching(/^webhook:/) });
    expect(await s.stored(plain.externalId)).toMatchObject({ deleted: true });
    expect(await s.live()).toHaveLength(0);
    await s.linked(plain.externalId, plainId); // the provider's tombstone names the temporary id too

    const edited = await s.changes.create(s.scope, { name: 'Edited Then Gone', email: `gone.${s.connectionId}@example.com`, currency: 'EUR' });
    let editedId = '';
    hooked.next(async () => {
      editedId = await deletedAtOnce(String(edited.data.email));
      await s.changes.update(s.scope, edited.externalId, { notes: 'edited in flight' });
    });
    expect(await s.push(edited)).toBe('pushed');
    const moved = (await s.stored(editedId))!;
    expect(moved).toMatchObject({ deleted: false, data: { notes: 'edited in flight' }, pendingPush: { op: 'update' } });
    expect(await s.stored(edited.externalId)).toMatchObject({ deleted: true });
    await s.linked(edited.externalId, editedId);
    expect(await s.push(moved)).toBe('parked');
    const [conflict] = (await platform.conflicts.list({ tenantId: 't1', connectionId: s.connectionId, state: 'open', limit: 10 })).conflicts;
    expect(conflict).toMatchObject({ kind: 'data_mismatch', externalId: editedId, remote: null });
  });

  test('with nothing at the new id, the record moves there as before', async () => {
    const s = await setup();
    const created = await s.create();
    expect(await s.push(created)).toBe('pushed');
    const [moved] = await s.live();
    expect(moved.externalId).not.toMatch(/^local-/);
    expect(moved).toMatchObject({ version: 1, lastStepId: `push:${created.pendingPush!.outboxId}`, data: await s.remote(moved.externalId) });
    expect(moved.pendingPush).toBeUndefined();
    expect(moved.base).toBeUndefined();
    expect(await s.stored(created.externalId)).toMatchObject({ deleted: true, version: 2 });
    await s.linked(created.externalId, moved.externalId);
  });
});
