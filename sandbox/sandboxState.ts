import { SandboxDataset } from './dataset';
import { FaultInjector } from './faults';
import { OAuthTokenStore } from './oauth/tokenStore';
import { ResolvedSandboxOptions } from './options';
import { RateLimiter } from './rateLimiter';
import { RequestStats } from './requestStats';
import { SandboxClock } from './sandboxClock';
import { WebhookDispatcher } from './webhooks/webhookDispatcher';
import { IdempotencyStore } from './writes/idempotencyStore';

/** Everything one running sandbox holds, shared by the provider API, the OAuth server and the control API. */
export class SandboxState {
  readonly clock = new SandboxClock();
  readonly dataset: SandboxDataset;
  readonly faults: FaultInjector;
  readonly limiter: RateLimiter;
  readonly stats = new RequestStats();
  readonly webhooks: WebhookDispatcher;
  readonly idempotency: IdempotencyStore;
  /** Present only when the sandbox was started with the `oauth` option. */
  readonly oauth?: OAuthTokenStore;

  constructor(readonly options: ResolvedSandboxOptions) {
    this.webhooks = new WebhookDispatcher(options.seed);
    // Every change, whoever makes it, becomes a webhook event.
    this.dataset = new SandboxDataset(options.recordsPerEntity, options.seed, this.clock, (change) => this.webhooks.publish(change));
    this.faults = new FaultInjector(options.seed);
    this.limiter = new RateLimiter(options.rateLimit);
    this.idempotency = new IdempotencyStore(options.idempotencyKeyTtlSeconds * 1000);
    this.oauth = options.oauth ? new OAuthTokenStore(options.oauth) : undefined;
  }

  /** New data; remembered write results would describe records that no longer exist, so they go too. */
  reseed(recordsPerEntity: number, seed: number): void {
    this.dataset.reseed(recordsPerEntity, seed);
    this.idempotency.clear();
  }

  /**
   * Back to the start options: data re-seeded; overlay, faults, clock, rate-limit windows, stats,
   * idempotency keys, OAuth codes and tokens, webhook targets and the delivery log cleared.
   */
  reset(): void {
    this.reseed(this.options.recordsPerEntity, this.options.seed);
    this.faults.clear();
    this.clock.freeze(undefined);
    this.limiter.clear();
    this.stats.clear();
    this.oauth?.clear();
    this.webhooks.clear();
  }

  /** Stops webhook deliveries (in flight and retry waits) so that closing does not wait for them. */
  close(): void {
    this.webhooks.close();
  }
}
