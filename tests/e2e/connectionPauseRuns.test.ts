import type { RunView } from '../../shared/core/runs/runView';
import { redriveStalledRuns } from '../../shared/core/runs/runWatchdog';
import { QUEUES } from '../../shared/ports/queue';
import { ENTITIES, Harness } from '../support/harness';

/**
 * Pausing a connection pauses its open run, and resuming the connection resumes the run its
 * pause paused (docs/admin-api.md, Connections). Before, a run already open went on pulling pages
 * from a paused connection's provider. The real stack on loopback: the sandbox slowed
 * (`faults.slowMs`) keeps a run open long enough to pause it mid-way.
 */
const RECORDS = 30;
const PAGE_SIZE = 5;
const SLOW_MS = 80;

const exactFirstRun = { fetched: RECORDS, created: RECORDS, updated: 0, unchanged: 0, deleted: 0, failed: 0 };

/** Provider requests the sandbox began (each slowed request counts as it starts). */
async function requestsBegun(h: Harness): Promise<number> {
  return (await h.sandbox<{ injected: { slowed: number } }>('GET', 'stats')).injected.slowed;
}

/** Waits for the run to be in `state` with no step at work, then proves no page is fetched for a while. */
async function quietIn(h: Harness, runId: string, state: RunView['state']): Promise<RunView> {
  await h.waitFor(`run ${runId} to be ${state} with no step at work`, async () => {
    const depth = h.platform.queue.depth(QUEUES.inbound);
    return (await h.run(runId)).state === state && depth.locked === 0 && depth.active === 0;
  });
  // A step's read-ahead of its next page may still be on its way: let it land.
  await new Promise((r) => setTimeout(r, SLOW_MS * 3));
  const before = await requestsBegun(h);
  const view = await h.run(runId);
  await new Promise((r) => setTimeout(r, SLOW_MS * 10));
  expect(await requestsBegun(h)).toBe(before);
  expect((await h.run(runId)).counters).toEqual(view.counters);
  return view;
}

async function startedAndMoving(h: Harness, connectionId = 'shop', key?: string): Promise<string> {
  const response = await h.api('POST', `/api/connections/${connectionId}/syncs`, { mode: 'full' }, key);
  expect(response.status).toBe(202);
  const runId: string = response.body.runId;
  await h.waitFor('a few pages to be applied', async () => (await h.run(runId, key)).counters.fetched >= 2 * PAGE_SIZE);
  return runId;
}

async function expectDoneExactly(h: Harness, runId: string, key?: string): Promise<void> {
  const done = await h.waitForRun(runId, 60_000, key);
  expect(done.state).toBe('done');
  for (const entity of done.entities) expect({ entity: entity.entity, counters: entity.counters }).toEqual({ entity: entity.entity, counters: exactFirstRun });
}

describe.each(['local', 'azure'] as const)('pausing a connection mid-run (%s platform)', (platform) => {
  let h: Harness;
  beforeEach(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: RECORDS }, pageSize: PAGE_SIZE, platform });
    await h.sandbox('POST', 'faults', { slowMs: SLOW_MS });
  }, 60_000);
  afterEach(async () => h?.close());

  test('pauses the run: no page is fetched, the watchdog leaves it alone, and the resume finishes it with exact counters', async () => {
    const runId = await startedAndMoving(h);
    const paused = await h.api('POST', '/api/connections/shop/pause');
    const held = await quietIn(h, runId, 'paused');
    expect(held.pausedBy).toBe('connection');
    expect(held.counters.fetched).toBeLessThan(RECORDS * ENTITIES.length);
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ status: 'paused', pausedRuns: [runId], finishingRuns: [] });

    // However long it sits, a paused run is not a stalled one.
    const before = await h.platform.runs.get(runId);
    expect(await redriveStalledRuns({ ...h.services.engine, stalledRunGraceMs: 1 }, ['t1'])).toEqual({ redriven: [], failed: [] });
    expect(await h.platform.runs.get(runId)).toEqual(before);
    // Nor does an operator resume it while its connection is paused.
    expect((await h.api('POST', `/api/syncs/${runId}/resume`)).status).toBe(409);

    await h.sandbox('POST', 'faults', { slowMs: 0 });
    const resumed = await h.api('POST', '/api/connections/shop/resume');
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ status: 'active', resumedRuns: [runId] });
    await expectDoneExactly(h, runId);
    await h.expectInStep();
  }, 90_000);
});

describe('pausing a connection: runs an operator paused, queued runs, closing runs, late runs', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: RECORDS }, pageSize: PAGE_SIZE });
    await h.sandbox('POST', 'faults', { slowMs: SLOW_MS });
  }, 60_000);
  afterEach(async () => h?.close());

  test('a connection whose authorization was refused while it was paused resumes awaiting reauthorization, its run still paused until it is reconnected and resumed', async () => {
    const runId = await startedAndMoving(h);
    expect((await h.api('POST', '/api/connections/shop/pause')).status).toBe(200);
    await quietIn(h, runId, 'paused');
    // What a refresh refused with invalid_grant records on a paused connection (reauthorizationParking.ts).
    const stored = (await h.platform.connections.get('shop'))!;
    await h.platform.connections.update({ ...stored, reauthorizationRequiredSince: new Date().toISOString() });

    const resumed = await h.api('POST', '/api/connections/shop/resume');
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ status: 'reauthorization_required', resumedRuns: [], releasedPushes: 0 });
    expect(await quietIn(h, runId, 'paused')).toMatchObject({ pausedBy: 'connection' });

    // Reconnected (new credentials): active again, the pause's run still waiting for a resume.
    expect((await h.api('PUT', '/api/connections/shop/credentials', { type: 'apiKey', apiKey: 'sandbox-api-key' })).status).toBe(200);
    expect((await h.api('GET', '/api/connections/shop')).body).toMatchObject({ status: 'active' });
    await h.sandbox('POST', 'faults', { slowMs: 0 });
    expect((await h.api('POST', '/api/connections/shop/resume')).body).toMatchObject({ status: 'active', resumedRuns: [runId] });
    await expectDoneExactly(h, runId);
  });

  test('a run an operator paused before the connection\'s pause stays paused after the connection\'s resume', async () => {
    const runId = await startedAndMoving(h);
    expect((await h.api('POST', `/api/syncs/${runId}/pause`)).body).toMatchObject({ state: 'paused', pausedBy: 'operator' });
    expect((await h.api('POST', '/api/connections/shop/pause')).body).toMatchObject({ status: 'paused', pausedRuns: [], finishingRuns: [] });
    expect((await h.api('POST', '/api/connections/shop/resume')).body).toMatchObject({ status: 'active', resumedRuns: [] });
    expect(await quietIn(h, runId, 'paused')).toMatchObject({ pausedBy: 'operator' });

    expect((await h.api('POST', `/api/syncs/${runId}/resume`)).status).toBe(200);
    await expectDoneExactly(h, runId);
  }, 60_000);

  test('an operator\'s pause of a run the connection paused takes it over: the connection\'s resume leaves it paused', async () => {
    const runId = await startedAndMoving(h);
    await h.api('POST', '/api/connections/shop/pause');
    expect(await h.run(runId)).toMatchObject({ state: 'paused', pausedBy: 'connection' });
    expect((await h.api('POST', `/api/syncs/${runId}/pause`)).body).toMatchObject({ state: 'paused', pausedBy: 'operator' });
    expect((await h.api('POST', '/api/connections/shop/resume')).body).toMatchObject({ resumedRuns: [] });
    expect(await quietIn(h, runId, 'paused')).toMatchObject({ pausedBy: 'operator' });
    expect((await h.api('POST', `/api/syncs/${runId}/resume`)).status).toBe(200);
    await expectDoneExactly(h, runId);
  }, 60_000);

  test('a queued run of a paused connection does not start when its tenant has room, and starts once the connection is resumed', async () => {
    await h.services.platform.tenants.createTenant({ id: 'one', name: 'One-run tenant', maxActiveRuns: 1, createdAt: new Date().toISOString() });
    const { key } = await h.services.tenants.issueApiKey('one', 'admin', 'one admin');
    for (const id of ['one-a', 'one-b']) {
      expect((await h.api('POST', '/api/connections', {
        id, provider: 'sandbox', config: { baseUrl: h.sandboxUrl, pageSize: PAGE_SIZE }, credentials: { type: 'apiKey', apiKey: 'sandbox-api-key' },
      }, key)).status).toBe(201);
    }
    const a = await startedAndMoving(h, 'one-a', key);
    const b = (await h.api('POST', '/api/connections/one-b/syncs', { mode: 'full' }, key)).body.runId;
    expect((await h.run(b, key)).state).toBe('queued');

    const paused = await h.api('POST', '/api/connections/one-b/pause', undefined, key);
    // The slot frees (the cancel promotes the queue), and the scheduler's tick promotes again: b waits.
    expect((await h.api('POST', `/api/syncs/${a}/cancel`, undefined, key)).status).toBe(200);
    await h.services.scheduler.tick();
    expect(await h.run(b, key)).toMatchObject({ state: 'queued', pausedBy: 'connection', startedAt: null });
    expect(paused.body).toMatchObject({ pausedRuns: [b] });

    await h.sandbox('POST', 'faults', { slowMs: 0 });
    expect((await h.api('POST', '/api/connections/one-b/resume', undefined, key)).body).toMatchObject({ status: 'active', resumedRuns: [b] });
    await expectDoneExactly(h, b, key);
  }, 60_000);

  test('a run whose closing step is sweeping finishes as it is; the connection\'s pause succeeds and says so', async () => {
    await h.sandbox('POST', 'faults', { slowMs: 0 });
    const records = h.platform.records;
    const sweep = records.sweepUnseen.bind(records);
    let pause: { status: number; body: any } | undefined;
    records.sweepUnseen = async (runId, ...rest) => {
      pause ??= await h.api('POST', '/api/connections/shop/pause');
      return sweep(runId, ...rest);
    };
    const runId = await h.startSync('full');
    await expectDoneExactly(h, runId);
    expect(pause).toMatchObject({ status: 200, body: { status: 'paused', pausedRuns: [], finishingRuns: [runId] } });
    expect((await h.api('POST', '/api/connections/shop/resume')).body).toMatchObject({ resumedRuns: [] });
  }, 60_000);

  test('a run that got past the pause (the connection paused without visiting its runs) is paused by its next page step', async () => {
    const runId = await startedAndMoving(h);
    // What a start or a hand resume racing the pause leaves: a paused connection with a running run.
    const connection = (await h.platform.connections.get('shop'))!;
    await h.platform.connections.update({ ...connection, status: 'paused' });
    expect(await quietIn(h, runId, 'paused')).toMatchObject({ pausedBy: 'connection' });

    await h.sandbox('POST', 'faults', { slowMs: 0 });
    expect((await h.api('POST', '/api/connections/shop/resume')).body).toMatchObject({ resumedRuns: [runId] });
    await expectDoneExactly(h, runId);
    await h.expectInStep();
  }, 60_000);
});
