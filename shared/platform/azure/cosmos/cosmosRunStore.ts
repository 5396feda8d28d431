import { SyncBridgeError } from '../../../core/errors';
import type { Run } from '../../../core/model';
import type { RunStore } from '../../../ports/runStore';
import { queryAll, readItem, withoutSystemFields } from './cosmosCalls';
import type { CosmosDatabase } from './cosmosDatabase';
import { createIfAbsent, replaceIfMatch } from './cosmosDocs';
import { isActive, TenantRunSlots } from './cosmosRunSlots';

type RunDoc = Run & { docType: 'run'; _etag?: string };

const MAX_START_ATTEMPTS = 20;

function fromDoc(doc: RunDoc): Run {
  const { docType: _type, ...run } = withoutSystemFields(doc);
  return run;
}

/**
 * RunStore on Cosmos DB (`runs`, key [tenantId, connectionId]). `update` checks the run's version
 * and replaces under If-Match, so a stale writer fails with `conflict` even when two writers read
 * the same version at the same time.
 *
 * `tryStart` keeps "at most N active runs per tenant" without a transaction across documents:
 * the tenant's slots document lists the runs that hold a slot, and a start first adds its run
 * there under If-Match (a reservation), then moves the run to running under If-Match. The decision
 * rests on that one conditional write, never on a query of the runs, which under Session
 * consistency another instance may answer from a replica that has not seen the latest start
 * (cosmosRunSlots.ts). A run that stops running or paused gives its slot back in `update`.
 */
export class CosmosRunStore implements RunStore {
  private readonly container;
  private readonly charges;

  private readonly slots;

  constructor(db: CosmosDatabase, private readonly options: { defaultListLimit?: number; maxListLimit?: number } = {}) {
    this.container = db.container('runs');
    this.charges = db.charges;
    this.slots = new TenantRunSlots(this.container, this.charges);
  }

  async create(run: Run): Promise<Run> {
    const stored: Run = { ...run, version: 1 };
    if (await this.get(run.id)) throw new SyncBridgeError('conflict', `Run ${run.id} already exists.`);
    if (!(await createIfAbsent(this.container, this.charges, 'runs.create', { ...stored, docType: 'run' }))) {
      throw new SyncBridgeError('conflict', `Run ${run.id} already exists.`);
    }
    if (isActive(stored.state)) await this.slots.add(stored.tenantId, { runId: stored.id, connectionId: stored.connectionId });
    return stored;
  }

  async get(runId: string): Promise<Run | undefined> {
    const doc = await this.find(runId);
    return doc && fromDoc(doc);
  }

  async update(run: Run): Promise<Run> {
    const current = await readItem<RunDoc>(this.container, this.charges, 'runs.read', run.id, [run.tenantId, run.connectionId]);
    if (!current || current.docType !== 'run') throw new SyncBridgeError('not_found', `Run ${run.id} does not exist.`);
    const stale = () => new SyncBridgeError('conflict', `Run ${run.id} changed since version ${run.version} was read; read it again and retry.`);
    if (current.version !== run.version) throw stale();
    const stored: Run = { ...run, version: run.version + 1 };
    if (!(await replaceIfMatch(this.container, this.charges, 'runs.update', { ...stored, docType: 'run' }, [run.tenantId, run.connectionId], current._etag))) throw stale();
    // After the run's write: a crash in between leaves a holder that ended (pruned when the slots
    // are full) or an active run that holds none (only for runs moved straight to running/paused,
    // which tryStart does not do).
    // Either way the run is written: a failed slot write must not read as a failed update (the
    // caller would write again from a stale version).
    if (isActive(stored.state) && !isActive(current.state)) await this.slots.add(stored.tenantId, { runId: stored.id, connectionId: stored.connectionId }).catch(() => undefined);
    else if (!isActive(stored.state) && stored.state !== current.state) {
      // The slot a failed release leaves is pruned once the list is full if
      // the run ended, or is the run's reservation for its next start if it went back to queued.
      await this.slots.release(stored.tenantId, stored.id).catch(() => undefined);
    }
    return stored;
  }

  async listByConnection(connectionId: string, options: { limit?: number } = {}): Promise<Run[]> {
    const requested = options.limit ?? this.options.defaultListLimit ?? 50;
    if (!Number.isInteger(requested) || requested < 1) throw new SyncBridgeError('validation', `limit must be a whole number of at least 1, got ${requested}.`);
    const limit = Math.min(requested, this.options.maxListLimit ?? 1000);
    const docs = await queryAll<RunDoc>(
      this.container, this.charges, 'runs.list',
      `SELECT TOP ${limit} * FROM c WHERE c.docType = 'run' AND c.connectionId = @connectionId ORDER BY c.createdAt DESC`,
      [{ name: '@connectionId', value: connectionId }],
    );
    return sortRuns(docs.map(fromDoc), 'newest');
  }

  async listOpenByConnection(connectionId: string): Promise<Run[]> {
    const docs = await queryAll<RunDoc>(
      this.container, this.charges, 'runs.listOpen',
      "SELECT * FROM c WHERE c.docType = 'run' AND c.connectionId = @connectionId AND c.state IN ('queued', 'running', 'paused')",
      [{ name: '@connectionId', value: connectionId }],
    );
    return sortRuns(docs.map(fromDoc), 'newest');
  }

  async listQueued(tenantId: string): Promise<Run[]> {
    const docs = await queryAll<RunDoc>(
      this.container, this.charges, 'runs.listQueued',
      "SELECT * FROM c WHERE c.docType = 'run' AND c.state = 'queued'",
      [], [tenantId],
    );
    return sortRuns(docs.map(fromDoc), 'oldest');
  }

  async listRunning(tenantId: string): Promise<Run[]> {
    const docs = await queryAll<RunDoc>(
      this.container, this.charges, 'runs.listRunning',
      "SELECT * FROM c WHERE c.docType = 'run' AND c.state = 'running'",
      [], [tenantId],
    );
    return sortRuns(docs.map(fromDoc), 'oldest');
  }

  async countActive(tenantId: string): Promise<number> {
    const [n] = await queryAll<number>(
      this.container, this.charges, 'runs.countActive',
      "SELECT VALUE COUNT(1) FROM c WHERE c.docType = 'run' AND c.state IN ('running', 'paused')",
      [], [tenantId],
    );
    return n ?? 0;
  }

  async tryStart(runId: string, maxActivePerTenant: number, startedAt: string): Promise<Run | undefined> {
    for (let attempt = 0; attempt < MAX_START_ATTEMPTS; attempt += 1) {
      const run = await this.find(runId);
      // Held by its connection's pause (Run.pausedBy): it waits, and reserves no slot. A hold
      // written after this read changes the run's etag, so the start below fails and reads again.
      if (!run || run.state !== 'queued' || run.pausedBy) return undefined;
      const slots = await this.slots.read(run.tenantId);
      // A slot reserved by an earlier attempt that did not get to start the run is still its own.
      if (!slots.holders.some((h) => h.runId === runId)) {
        let holders = slots.holders;
        if (holders.length >= maxActivePerTenant) {
          holders = await this.slots.pruned(run.tenantId, holders);
          if (holders.length >= maxActivePerTenant) {
            if (holders.length < slots.holders.length) await this.slots.replaceHolders(slots, holders);
            return undefined;
          }
        }
        if (!(await this.slots.reserve(slots, holders, { runId, connectionId: run.connectionId }))) continue;
      }
      const started: Run = { ...fromDoc(run), state: 'running', startedAt, updatedAt: startedAt, version: run.version + 1 };
      if (await replaceIfMatch(this.container, this.charges, 'runs.start', { ...started, docType: 'run' }, [run.tenantId, run.connectionId], run._etag!)) return started;
      // The run changed since it was read (another start of it won, or it was cancelled): read it
      // again. A reservation left for a run that no longer waits is pruned once the slots are full.
    }
    return undefined;
  }

  private async find(runId: string): Promise<RunDoc | undefined> {
    const [doc] = await queryAll<RunDoc>(this.container, this.charges, 'runs.get', "SELECT * FROM c WHERE c.id = @id AND c.docType = 'run'", [{ name: '@id', value: runId }]);
    return doc;
  }
}

/** Ties on createdAt (same millisecond) are broken by id, so the order is total and repeatable. */
function sortRuns(runs: Run[], order: 'newest' | 'oldest'): Run[] {
  const sign = order === 'newest' ? -1 : 1;
  return runs.sort((a, b) => sign * (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
