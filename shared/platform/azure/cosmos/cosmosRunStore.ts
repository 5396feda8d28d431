import { SyncBridgeError } from '../../../core/errors';
import type { Run } from '../../../core/model';
import type { RunStore } from '../../../ports/runStore';
import { queryAll, readItem, withoutSystemFields } from './cosmosCalls';
import type { CosmosDatabase } from './cosmosDatabase';
import { createIfAbsent, replaceIfMatch } from './cosmosDocs';

type RunDoc = Run & { docType: 'run'; _etag?: string };
/** One per tenant, in its own partition of `runs`: its `_etag` orders concurrent starts. */
type SlotsDoc = { id: string; docType: 'tenantSlots'; tenantId: string; connectionId: string; starts: number; _etag?: string };

const SLOTS_PARTITION = '~tenant-slots';
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
 * read the tenant's slots document, count the active runs, start the run (If-Match), then bump the
 * slots document If-Match the `_etag` read first. Of two starts that counted the same state, only
 * one bump succeeds; the other puts its run back to queued and tries again, and then counts the
 * winner. (A starter that reads the slots document after a bump also sees the winner's run, which
 * went to running before the bump.)
 */
export class CosmosRunStore implements RunStore {
  private readonly container;
  private readonly charges;

  constructor(db: CosmosDatabase, private readonly options: { defaultListLimit?: number; maxListLimit?: number } = {}) {
    this.container = db.container('runs');
    this.charges = db.charges;
  }

  async create(run: Run): Promise<Run> {
    const stored: Run = { ...run, version: 1 };
    if (await this.get(run.id)) throw new SyncBridgeError('conflict', `Run ${run.id} already exists.`);
    if (!(await createIfAbsent(this.container, this.charges, 'runs.create', { ...stored, docType: 'run' }))) {
      throw new SyncBridgeError('conflict', `Run ${run.id} already exists.`);
    }
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
      if (!run || run.state !== 'queued') return undefined;
      const slots = await this.slots(run.tenantId);
      if ((await this.countActive(run.tenantId)) >= maxActivePerTenant) return undefined;
      const started: Run = { ...fromDoc(run), state: 'running', startedAt, updatedAt: startedAt, version: run.version + 1 };
      if (!(await replaceIfMatch(this.container, this.charges, 'runs.start', { ...started, docType: 'run' }, [run.tenantId, run.connectionId], run._etag!))) continue;
      const bumped = { ...withoutSystemFields(slots), starts: slots.starts + 1 };
      if (await replaceIfMatch(this.container, this.charges, 'runs.start', bumped, [run.tenantId, SLOTS_PARTITION], slots._etag!)) return started;
      // Another start counted the same state and won: give the slot back and count again.
      const taken = await readItem<RunDoc>(this.container, this.charges, 'runs.start', runId, [run.tenantId, run.connectionId]);
      if (taken && taken.version === started.version) {
        await replaceIfMatch(this.container, this.charges, 'runs.start', { ...withoutSystemFields(taken), state: 'queued', startedAt: run.startedAt ?? null, updatedAt: run.updatedAt, version: started.version + 1 }, [run.tenantId, run.connectionId], taken._etag);
      }
    }
    return undefined;
  }

  private async slots(tenantId: string): Promise<SlotsDoc> {
    const id = `slots_${tenantId}`;
    for (;;) {
      const found = await readItem<SlotsDoc>(this.container, this.charges, 'runs.start', id, [tenantId, SLOTS_PARTITION]);
      if (found) return found;
      await createIfAbsent(this.container, this.charges, 'runs.start', { id, docType: 'tenantSlots', tenantId, connectionId: SLOTS_PARTITION, starts: 0 });
    }
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
