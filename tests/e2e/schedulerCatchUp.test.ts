import { PassThrough } from 'node:stream';
import { createServices, type Services } from '../../shared/composition';
import type { Connection, ConnectionStatus } from '../../shared/core/model';
import { createLocalPlatform, type LocalPlatform } from '../../shared/platform/local/localPlatform';
import { ManualClock, tempDirectory } from '../local/helpers';

/**
 * An occurrence of a connection's schedule that comes due while a run of the connection is open is
 * caught up once that run ends (docs/sync-engine.md, Schedules). A review found it was dropped: the
 * tick claimed the occurrence, the start answered 409, and the occurrence was spent. The scheduler
 * runs here on the real SQLite stores with a manual clock; nothing consumes the step messages it
 * sends, so runs stay open until the test ends them. "A restart" closes the platform and opens a
 * new one on the same file.
 */
describe('scheduler: an occurrence due while a run is open is caught up after it', () => {
  const HOURLY = { cron: '0 0 * * * *', timeZone: 'UTC', mode: 'incremental' as const, enabled: true };
  let dir: ReturnType<typeof tempDirectory>;
  let clock: ManualClock;
  let platform: LocalPlatform;
  let services: Services;

  function open(): void {
    platform = createLocalPlatform({ dataDir: dir.path, clock, telemetrySink: new PassThrough() });
    services = createServices(platform);
  }

  async function restart(): Promise<void> {
    await platform.close();
    open();
  }

  beforeEach(async () => {
    dir = tempDirectory('syncbridge-catchup-');
    clock = new ManualClock(new Date('2030-01-01T00:00:30.000Z'));
    open();
    await services.tenants.ensureTenant('t1', 'Tenant one');
    const at = clock.now().toISOString();
    await platform.connections.create({
      id: 'hourly', tenantId: 't1', provider: 'sandbox', config: { baseUrl: 'http://127.0.0.1:9' },
      entities: [{ name: 'customers', direction: 'pull' }], schedule: HOURLY, status: 'active', syncState: {},
      createdAt: at, updatedAt: at, version: 0,
    });
  });
  afterEach(async () => {
    await platform?.close();
    dir?.remove();
  });

  const connection = async (): Promise<Connection> => (await platform.connections.get('hourly'))!;
  const scheduledRuns = async () => (await platform.runs.listByConnection('hourly')).filter((r) => r.trigger === 'schedule');

  /** A run started by hand at 00:00:30, open until the test ends it. */
  async function openManualRun(): Promise<string> {
    const run = await services.runs.startRun({ connection: await connection(), mode: 'full', trigger: 'api' });
    expect(run.state).toBe('running');
    return run.id;
  }

  async function setStatus(status: ConnectionStatus): Promise<void> {
    const current = await connection();
    await platform.connections.update({ ...current, status, updatedAt: clock.now().toISOString() });
  }

  test('two occurrences pass while a run is open: one catch-up run at the first tick after it ends, across a restart', async () => {
    const manual = await openManualRun();
    clock.advance(3600_000); // 01:00:30: the 01:00 occurrence is due
    const first = await services.scheduler.tick();
    expect(first.started).toEqual([]);
    expect(first.waiting.map((w) => w.connectionId)).toEqual(['hourly']);
    expect(first.waiting[0].reason).toContain(manual);
    expect((await connection()).lastScheduledAt).toBeUndefined(); // not claimed: still due
    clock.advance(3600_000); // 02:00:30: another occurrence, still the same open run
    expect((await services.scheduler.tick()).waiting.map((w) => w.connectionId)).toEqual(['hourly']);

    await restart(); // the catch-up is in the store, not in the process
    await services.runs.cancel(manual);
    clock.advance(60_000); // the next tick, 02:01:30
    const caughtUp = await services.scheduler.tick();
    expect(caughtUp.started).toHaveLength(1);
    expect(caughtUp.waiting).toEqual([]);
    const [run] = await scheduledRuns();
    expect(run.id).toBe(caughtUp.started[0]);
    expect(run.state).toBe('running');

    // Coalesced: the two occurrences made one run. After it ends, nothing until 03:00.
    await services.runs.cancel(run.id);
    clock.advance(60_000);
    const after = await services.scheduler.tick();
    expect(after.started).toEqual([]);
    expect(after.waiting).toEqual([]);
    expect(await scheduledRuns()).toHaveLength(1);
    clock.advance(3600_000);
    expect((await services.scheduler.tick()).started).toHaveLength(1);
  });

  test.each(['reauthorization_required', 'paused'] as const)('a connection that is %s when the open run ends gets no catch-up run, then or when it is active again', async (status) => {
    const manual = await openManualRun();
    clock.advance(3600_000); // 01:00:30
    expect((await services.scheduler.tick()).waiting.map((w) => w.connectionId)).toEqual(['hourly']);
    await setStatus(status); // e.g. the run's token refresh was refused
    await services.runs.cancel(manual);
    clock.advance(60_000);
    const parked = await services.scheduler.tick();
    expect(parked.started).toEqual([]);
    expect(parked.skipped).toEqual([{ connectionId: 'hourly', reason: expect.stringContaining(status) }]);

    await setStatus('active');
    clock.advance(60_000);
    expect((await services.scheduler.tick()).started).toEqual([]); // the dropped occurrence does not come back
    expect(await scheduledRuns()).toEqual([]);
    clock.advance(3600_000); // 02:02:30: its next occurrence starts as usual
    expect((await services.scheduler.tick()).started).toHaveLength(1);
  });

  test('a run opened between the tick\'s check and its start gives the occurrence back, and it is caught up', async () => {
    clock.advance(3600_000); // 01:00:30: due, no run open yet
    // An API start lands just as the tick starts its run: the tick's start finds it (409).
    const runs = platform.runs;
    const list = runs.listOpenByConnection.bind(runs);
    let manual: string | undefined;
    let fired = false;
    runs.listOpenByConnection = async (connectionId: string) => {
      const found = await list(connectionId);
      if (!fired) {
        fired = true;
        manual = await openManualRun();
      }
      return found;
    };
    const tick = await services.scheduler.tick();
    runs.listOpenByConnection = list;
    expect(tick.started).toEqual([]);
    expect(tick.waiting.map((w) => w.connectionId)).toEqual(['hourly']);
    expect((await connection()).lastScheduledAt).toBeUndefined(); // given back

    await services.runs.cancel(manual!);
    clock.advance(60_000);
    expect((await services.scheduler.tick()).started).toHaveLength(1);
  });
});
