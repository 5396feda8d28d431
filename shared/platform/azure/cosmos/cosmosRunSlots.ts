import type { Container } from '@azure/cosmos';
import { SyncBridgeError } from '../../../core/errors';
import type { RunState } from '../../../core/model';
import { queryAll, readItem, withoutSystemFields } from './cosmosCalls';
import { createIfAbsent, replaceIfMatch } from './cosmosDocs';
import type { RequestCharges } from './requestCharges';

/** A run that holds one of its tenant's slots: running, paused, or queued with a slot reserved for its start. */
export interface SlotHolder {
  runId: string;
  connectionId: string;
}

/** One per tenant, in its own partition of `runs`. `starts` counts starts (kept from the first design). */
type SlotsDoc = { id: string; docType: 'tenantSlots'; tenantId: string; connectionId: string; starts: number; holders?: SlotHolder[]; _etag?: string };
export type TenantSlots = SlotsDoc & { holders: SlotHolder[]; _etag: string };

const SLOTS_PARTITION = '~tenant-slots';
const MAX_WRITE_ATTEMPTS = 20;
/** States in which a run may hold a slot; a run in any other state (done, partial, failed, cancelled) never will again. */
const HOLDING_STATES: readonly RunState[] = ['queued', 'running', 'paused'];

/**
 * The tenant's run slots: the runs that count against its limit, listed in one document and changed
 * only by replaces under If-Match its `_etag`. A start is admitted by that one conditional write, so
 * the limit holds whatever the consistency level: Cosmos checks If-Match where the write commits,
 * while a read or query from another instance under Session consistency may be served by a replica
 * that has not applied the latest writes (a stale read here only makes the write fail and go round
 * again). The runs themselves live in other partitions; the list is kept in step with them by
 * writes after theirs (`release` when a run stops holding, `add` for runs created or moved straight
 * to running or paused), so a crash between the two can leave a holder that no longer runs: `pruned`
 * drops those that ended when the list is full.
 */
export class TenantRunSlots {
  constructor(private readonly container: Container, private readonly charges: RequestCharges) {}

  /**
   * The tenant's slots, created when missing. A document without `holders` (written by the first
   * design, which counted runs instead) or a new one gets them from a query of the running and
   * paused runs, once, under If-Match.
   */
  async read(tenantId: string): Promise<TenantSlots> {
    const id = `slots_${tenantId}`;
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt += 1) {
      const found = await readItem<SlotsDoc>(this.container, this.charges, 'runs.slots', id, [tenantId, SLOTS_PARTITION]);
      if (found?.holders) return found as TenantSlots;
      const holders = await this.activeRuns(tenantId);
      if (!found) await createIfAbsent(this.container, this.charges, 'runs.slots', { id, docType: 'tenantSlots', tenantId, connectionId: SLOTS_PARTITION, starts: 0, holders });
      else await replaceIfMatch(this.container, this.charges, 'runs.slots', { ...withoutSystemFields(found), holders }, [tenantId, SLOTS_PARTITION], found._etag);
    }
    throw new SyncBridgeError('transient', `The run slots of tenant ${tenantId} kept changing while they were read; try again.`);
  }

  /** Adds `holder` to the slots as read; false when they changed since (read again and decide again). */
  async reserve(slots: TenantSlots, holders: SlotHolder[], holder: SlotHolder): Promise<boolean> {
    const next: SlotsDoc = { ...withoutSystemFields(slots), holders: [...holders, holder], starts: slots.starts + 1 };
    return replaceIfMatch(this.container, this.charges, 'runs.slots', next, [slots.tenantId, SLOTS_PARTITION], slots._etag);
  }

  /** Adds a holder whatever the limit (a run created as, or moved straight to, running or paused). */
  async add(tenantId: string, holder: SlotHolder): Promise<void> {
    await this.change(tenantId, (holders) => (holders.some((h) => h.runId === holder.runId) ? undefined : [...holders, holder]));
  }

  /** Gives the run's slot back, if it holds one. */
  async release(tenantId: string, runId: string): Promise<void> {
    await this.change(tenantId, (holders) => (holders.some((h) => h.runId === runId) ? holders.filter((h) => h.runId !== runId) : undefined));
  }

  /**
   * The holders without the runs that ended (a release that never came: the instance died between
   * the run's write and the release). One point read per holder, done only when the list is full.
   * A run that reads as missing is kept: runs are never deleted, so it is one this replica has not
   * seen yet. A queued run held by its connection's pause (pausedBy) goes too: a start's
   * reservation that lost to the hold, which tryStart would otherwise keep for a run that cannot
   * start until the connection is resumed (its start then reserves again).
   */
  async pruned(tenantId: string, holders: SlotHolder[]): Promise<SlotHolder[]> {
    const runs = await Promise.all(holders.map((h) => readItem<{ state: RunState; pausedBy?: string | null }>(this.container, this.charges, 'runs.slots', h.runId, [tenantId, h.connectionId])));
    return holders.filter((_, i) => {
      const run = runs[i];
      if (run === undefined) return true;
      return HOLDING_STATES.includes(run.state) && !(run.state === 'queued' && run.pausedBy);
    });
  }

  /** Writes the pruned list back (best effort: a lost race leaves it for the next prune). */
  async replaceHolders(slots: TenantSlots, holders: SlotHolder[]): Promise<void> {
    await replaceIfMatch(this.container, this.charges, 'runs.slots', { ...withoutSystemFields(slots), holders }, [slots.tenantId, SLOTS_PARTITION], slots._etag);
  }

  /** Read, change, replace If-Match, again on a lost race; `next` returns undefined for "nothing to do". */
  private async change(tenantId: string, next: (holders: SlotHolder[]) => SlotHolder[] | undefined): Promise<void> {
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt += 1) {
      const slots = await this.read(tenantId);
      const holders = next(slots.holders);
      if (!holders) return;
      if (await replaceIfMatch(this.container, this.charges, 'runs.slots', { ...withoutSystemFields(slots), holders }, [tenantId, SLOTS_PARTITION], slots._etag)) return;
    }
    throw new SyncBridgeError('transient', `The run slots of tenant ${tenantId} kept changing; try again.`);
  }

  private async activeRuns(tenantId: string): Promise<SlotHolder[]> {
    const runs = await queryAll<{ id: string; connectionId: string }>(
      this.container, this.charges, 'runs.slots',
      "SELECT c.id, c.connectionId FROM c WHERE c.docType = 'run' AND c.state IN ('running', 'paused')",
      [], [tenantId],
    );
    return runs.map((r) => ({ runId: r.id, connectionId: r.connectionId }));
  }
}

/** Running and paused runs count against the tenant's limit (RunStore.countActive). */
export function isActive(state: RunState): boolean {
  return state === 'running' || state === 'paused';
}
