import { emptyCounters, type Run, type RunState } from '../../shared/core/model';
import type { RunStore } from '../../shared/ports/runStore';
import { expectSyncBridgeError, uniqueId, type StoreFactory, type StoreFixture } from './fixtures';

const T0 = Date.parse('2026-03-01T09:00:00.000Z');

function at(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString();
}

export function makeRun(tenantId: string, connectionId: string, overrides: Partial<Run> = {}): Run {
  return {
    id: uniqueId('run'),
    tenantId,
    connectionId,
    kind: 'full',
    trigger: 'manual',
    state: 'queued',
    entities: [
      { entity: 'customers', status: 'pending', cursor: null, pages: 0, since: null, highWater: null, total: null, counters: emptyCounters(), attempts: 0, lastError: null },
    ],
    createdAt: at(0),
    startedAt: null,
    finishedAt: null,
    updatedAt: at(0),
    lastError: null,
    resumes: 0,
    version: 0,
    ...overrides,
  };
}

/** The RunStore port's semantics (shared/ports/runStore.ts), run against every implementation. */
export function runStoreConformance(name: string, factory: StoreFactory<RunStore>): void {
  describe(`RunStore conformance: ${name}`, () => {
    let fixture: StoreFixture<RunStore>;
    let store: RunStore;
    let tenantId: string;
    let connectionId: string;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
      tenantId = uniqueId('ten');
      connectionId = uniqueId('con');
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    /** Creates runs in the given states, `seconds` apart, and returns them as stored. */
    async function createRuns(states: RunState[], options: { tenant?: string; connection?: string; firstSecond?: number } = {}): Promise<Run[]> {
      const created: Run[] = [];
      for (const [i, state] of states.entries()) {
        const time = at((options.firstSecond ?? 0) + i);
        created.push(await store.create(makeRun(options.tenant ?? tenantId, options.connection ?? connectionId, { state, createdAt: time, updatedAt: time })));
      }
      return created;
    }

    describe('create and get', () => {
      it('stores a new run at version 1 and returns it as stored', async () => {
        const run = makeRun(tenantId, connectionId);
        const created = await store.create(run);
        expect(created).toEqual({ ...run, version: 1 });
        expect(await store.get(run.id)).toEqual(created);
      });

      it('keeps the optional fields of an entity\'s progress (emptyPages, counted by the step runner)', async () => {
        const run = makeRun(tenantId, connectionId);
        run.entities[0] = { ...run.entities[0], status: 'running', cursor: 'c-4', pages: 4, emptyPages: 3 };
        await store.create(run);
        expect((await store.get(run.id))?.entities[0]).toEqual(run.entities[0]);
      });

      it('keeps who paused a run (pausedBy) through create and update, and its clearing to null', async () => {
        const created = await store.create(makeRun(tenantId, connectionId, { state: 'paused', pausedBy: 'connection' }));
        expect((await store.get(created.id))?.pausedBy).toBe('connection');
        const taken = await store.update({ ...created, pausedBy: 'operator' });
        expect(await store.get(created.id)).toEqual(taken);
        const resumed = await store.update({ ...taken, state: 'running', pausedBy: null });
        expect(await store.get(created.id)).toEqual(resumed);
        expect(resumed.pausedBy).toBeNull();
      });

      it('refuses a second run with the same id as a conflict and keeps the first', async () => {
        const run = await store.create(makeRun(tenantId, connectionId));
        await expectSyncBridgeError(store.create({ ...run, state: 'running', version: 0 }), 'conflict');
        expect(await store.get(run.id)).toEqual(run);
      });

      it('returns undefined for an unknown run', async () => {
        expect(await store.get(uniqueId('run-missing'))).toBeUndefined();
      });
    });

    describe('update', () => {
      it('stores the run at version + 1 when the version matches, and returns that', async () => {
        const run = await store.create(makeRun(tenantId, connectionId));
        const changed = { ...run, state: 'running' as const, startedAt: at(5), updatedAt: at(5) };
        const updated = await store.update(changed);
        expect(updated).toEqual({ ...changed, version: run.version + 1 });
        expect(await store.get(run.id)).toEqual(updated);
      });

      it('refuses a stale version as a conflict and keeps what the winner stored', async () => {
        const run = await store.create(makeRun(tenantId, connectionId));
        const winner = await store.update({ ...run, lastError: 'winner' });
        await expectSyncBridgeError(store.update({ ...run, lastError: 'loser' }), 'conflict');
        expect(await store.get(run.id)).toEqual(winner);
      });

      it('lets exactly one of two writers holding the same version win', async () => {
        const run = await store.create(makeRun(tenantId, connectionId));
        const results = await Promise.allSettled([store.update({ ...run, lastError: 'a' }), store.update({ ...run, lastError: 'b' })]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(await store.get(run.id)).toMatchObject({ version: run.version + 1 });
      });

      it('refuses an update of a run that does not exist as not_found', async () => {
        await expectSyncBridgeError(store.update(makeRun(tenantId, connectionId, { version: 1 })), 'not_found');
      });

      it('stores per-entity progress whole', async () => {
        const run = await store.create(makeRun(tenantId, connectionId));
        const progressed: Run = {
          ...run,
          entities: [{ ...run.entities[0], status: 'running', cursor: 'page-3', pages: 2, highWater: '2026-02-01T00:00:00Z', total: 4200, counters: { ...emptyCounters(), fetched: 2000, created: 1990, unchanged: 10 } }],
        };
        await store.update(progressed);
        expect((await store.get(run.id))?.entities).toEqual(progressed.entities);
      });
    });

    describe('lists', () => {
      it('lists a connection\'s runs newest first, up to the limit', async () => {
        const runs = await createRuns(['done', 'failed', 'done', 'running']);
        await createRuns(['done'], { connection: uniqueId('other-con') });
        expect((await store.listByConnection(connectionId)).map((r) => r.id)).toEqual(runs.map((r) => r.id).reverse());
        expect((await store.listByConnection(connectionId, { limit: 2 })).map((r) => r.id)).toEqual([runs[3].id, runs[2].id]);
      });

      it('lists only the queued, running and paused runs of a connection as open, newest first', async () => {
        const runs = await createRuns(['done', 'queued', 'running', 'paused', 'cancelled', 'partial', 'failed']);
        expect((await store.listOpenByConnection(connectionId)).map((r) => r.state)).toEqual(['paused', 'running', 'queued']);
        expect((await store.listOpenByConnection(connectionId)).map((r) => r.id)).toEqual([runs[3].id, runs[2].id, runs[1].id]);
      });

      it('lists a tenant\'s queued runs oldest first, across its connections, and no other tenant\'s', async () => {
        const first = await createRuns(['queued', 'running', 'queued']);
        const second = await createRuns(['queued'], { connection: uniqueId('con-b'), firstSecond: 1 });
        await createRuns(['queued'], { tenant: uniqueId('other-ten') });
        const queued = await store.listQueued(tenantId);
        expect(queued.map((r) => r.id)).toEqual([first[0].id, second[0].id, first[2].id]);
      });

      it('lists a tenant\'s running runs oldest first, across its connections: not paused, not another tenant\'s', async () => {
        const first = await createRuns(['running', 'paused', 'queued', 'done', 'running']);
        const second = await createRuns(['running'], { connection: uniqueId('con-b'), firstSecond: 1 });
        await createRuns(['running'], { tenant: uniqueId('other-ten') });
        const running = await store.listRunning(tenantId);
        expect(running.map((r) => r.id)).toEqual([first[0].id, second[0].id, first[4].id]);
        expect(running[0]).toEqual(first[0]);
      });

      it('counts a tenant\'s running and paused runs as active, and nothing else', async () => {
        await createRuns(['queued', 'running', 'paused', 'done', 'failed', 'cancelled', 'partial', 'running']);
        await createRuns(['running'], { tenant: uniqueId('other-ten') });
        expect(await store.countActive(tenantId)).toBe(3);
      });
    });

    describe('tryStart', () => {
      it('starts a queued run when the tenant has room: state running, startedAt set, version bumped', async () => {
        const [run] = await createRuns(['queued']);
        const started = await store.tryStart(run.id, 2, at(30));
        expect(started).toMatchObject({ id: run.id, state: 'running', startedAt: at(30), version: run.version + 1 });
        expect(await store.get(run.id)).toEqual(started);
        expect(await store.countActive(tenantId)).toBe(1);
      });

      it('keeps a run queued while the tenant is at its limit, counting paused runs', async () => {
        const [, , waiting] = await createRuns(['running', 'paused', 'queued']);
        expect(await store.tryStart(waiting.id, 2, at(30))).toBeUndefined();
        expect(await store.get(waiting.id)).toEqual(waiting);
        expect(await store.tryStart(waiting.id, 3, at(30))).toMatchObject({ state: 'running' });
      });

      it('does not count other tenants\' runs against the limit', async () => {
        await createRuns(['running', 'running'], { tenant: uniqueId('other-ten') });
        const [run] = await createRuns(['queued']);
        expect(await store.tryStart(run.id, 1, at(30))).toMatchObject({ state: 'running' });
      });

      it('returns undefined for a run that is no longer queued, or unknown, and changes nothing', async () => {
        const [running, cancelled] = await createRuns(['running', 'cancelled']);
        expect(await store.tryStart(running.id, 10, at(30))).toBeUndefined();
        expect(await store.tryStart(cancelled.id, 10, at(30))).toBeUndefined();
        expect(await store.tryStart(uniqueId('run-missing'), 10, at(30))).toBeUndefined();
        expect(await store.get(running.id)).toEqual(running);
        expect(await store.get(cancelled.id)).toEqual(cancelled);
      });

      it('leaves a queued run held by its connection\'s pause (pausedBy) queued whatever room, and starts it once released', async () => {
        const [queued] = await createRuns(['queued']);
        const held = await store.update({ ...queued, pausedBy: 'connection' });
        expect(await store.tryStart(held.id, 10, at(30))).toBeUndefined();
        expect(await store.get(held.id)).toEqual(held);
        expect(await store.countActive(tenantId)).toBe(0);
        expect((await store.listQueued(tenantId)).map((r) => r.id)).toEqual([held.id]);
        const released = await store.update({ ...held, pausedBy: null });
        expect(await store.tryStart(released.id, 10, at(31))).toMatchObject({ state: 'running', startedAt: at(31), pausedBy: null });
      });

      it('a held run does not count against the limit: another queued run of the tenant starts in its place', async () => {
        const [first, second] = await createRuns(['queued', 'queued']);
        await store.update({ ...first, pausedBy: 'connection' });
        expect(await store.tryStart(first.id, 1, at(30))).toBeUndefined();
        expect(await store.tryStart(second.id, 1, at(30))).toMatchObject({ state: 'running' });
      });

      it('starts no more than the limit when many starts race', async () => {
        const queued = await createRuns(Array.from({ length: 10 }, () => 'queued' as const));
        const results = await Promise.all(queued.map((run) => store.tryStart(run.id, 3, at(30))));
        expect(results.filter((r) => r !== undefined)).toHaveLength(3);
        expect(await store.countActive(tenantId)).toBe(3);
        expect(await store.listQueued(tenantId)).toHaveLength(7);
      });

      it('starts a run once when two starts of the same run race', async () => {
        const [run] = await createRuns(['queued']);
        const results = await Promise.all([store.tryStart(run.id, 5, at(30)), store.tryStart(run.id, 5, at(31))]);
        expect(results.filter((r) => r !== undefined)).toHaveLength(1);
        expect(await store.get(run.id)).toMatchObject({ state: 'running', version: run.version + 1 });
      });
    });
  });
}
