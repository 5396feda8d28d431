import { SandboxDataset } from './dataset';
import { FaultInjector } from './faults';
import { ResolvedSandboxOptions } from './options';
import { RateLimiter } from './rateLimiter';
import { RequestStats } from './requestStats';
import { SandboxClock } from './sandboxClock';

/** Everything one running sandbox holds, shared by the provider API and the control API. */
export class SandboxState {
  readonly clock = new SandboxClock();
  readonly dataset: SandboxDataset;
  readonly faults: FaultInjector;
  readonly limiter: RateLimiter;
  readonly stats = new RequestStats();

  constructor(readonly options: ResolvedSandboxOptions) {
    this.dataset = new SandboxDataset(options.recordsPerEntity, options.seed, this.clock);
    this.faults = new FaultInjector(options.seed);
    this.limiter = new RateLimiter(options.rateLimit);
  }

  /** Back to the start options: data re-seeded, overlay, faults, clock, rate-limit windows and stats cleared. */
  reset(): void {
    this.dataset.reseed(this.options.recordsPerEntity, this.options.seed);
    this.faults.clear();
    this.clock.freeze(undefined);
    this.limiter.clear();
    this.stats.clear();
  }
}
