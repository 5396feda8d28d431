import { SyncBridgeError } from '../shared/core/errors';
import { SANDBOX_ENTITIES, SandboxEntity, recordId } from './entities';
import { EntityStore } from './entityStore';
import { SeededRandom, foldSeed, hashIntegers, hashString } from './random';
import { RecordChangeListener } from './recordChanges';
import { SandboxClock } from './sandboxClock';
import { lastSeededSecond } from './timeline';

export interface MutationCounts {
  create?: number;
  update?: number;
  delete?: number;
}

export interface MutationResult {
  created: string[];
  updated: string[];
  deleted: string[];
}

/**
 * All five entities of one seed, plus the clock mutations are stamped with. Re-seeding replaces
 * the stores (and so drops every overlay change); the clock survives a re-seed.
 */
export class SandboxDataset {
  private stores!: Record<SandboxEntity, EntityStore>;
  private mutationRandoms!: Record<SandboxEntity, SeededRandom>;
  private currentSeed!: number;
  private currentCount!: number;

  constructor(
    recordsPerEntity: number,
    seed: number,
    readonly clock: SandboxClock,
    /** Told about every change of every store, including changes after a re-seed. */
    private readonly onChange?: RecordChangeListener,
  ) {
    this.reseed(recordsPerEntity, seed);
  }

  get seed(): number {
    return this.currentSeed;
  }

  get recordsPerEntity(): number {
    return this.currentCount;
  }

  reseed(recordsPerEntity: number, seed: number): void {
    const context = { seed: foldSeed(seed), seededCount: recordsPerEntity };
    this.currentSeed = seed;
    this.currentCount = recordsPerEntity;
    this.stores = {} as Record<SandboxEntity, EntityStore>;
    this.mutationRandoms = {} as Record<SandboxEntity, SeededRandom>;
    for (const entity of SANDBOX_ENTITIES) {
      this.stores[entity] = new EntityStore(entity, context, this.onChange);
      // A stream per entity that only /mutate draws from, so bulk mutations are reproducible.
      this.mutationRandoms[entity] = new SeededRandom(hashIntegers(context.seed, hashString(`mutations:${entity}`)));
    }
  }

  store(entity: SandboxEntity): EntityStore {
    return this.stores[entity];
  }

  /**
   * The second a mutation is stamped with: the sandbox clock, but never at or before the last
   * seeded second, so a changed record always sorts after every seeded one and a scan that
   * already passed it meets it again.
   */
  mutationSecond(): number {
    return Math.max(this.clock.nowSecond(), lastSeededSecond(this.currentCount) + 1);
  }

  /**
   * Bulk changes picked by the entity's mutation stream: creates, then updates and deletes of
   * distinct records that were live before this request.
   */
  mutate(entity: SandboxEntity, counts: MutationCounts): MutationResult {
    const store = this.stores[entity];
    const random = this.mutationRandoms[entity];
    const second = this.mutationSecond();
    const result: MutationResult = { created: [], updated: [], deleted: [] };
    // Checked before anything changes, so a refused request leaves the data as it was.
    const changes = (counts.update ?? 0) + (counts.delete ?? 0);
    if (changes > store.liveCount) {
      throw new SyncBridgeError('validation', `Cannot update ${counts.update ?? 0} and delete ${counts.delete ?? 0} ${entity}: only ${store.liveCount} are live.`);
    }
    // Picked before the creates, so the three id lists never overlap.
    const picked = store.pickLive(random, changes);
    for (let i = 0; i < (counts.create ?? 0); i++) result.created.push(store.create({}, second).id);
    for (const index of picked.slice(0, counts.update ?? 0)) {
      store.touch(index, random, second);
      result.updated.push(recordId(entity, index));
    }
    for (const index of picked.slice(counts.update ?? 0)) {
      store.delete(recordId(entity, index), second);
      result.deleted.push(recordId(entity, index));
    }
    return result;
  }
}
