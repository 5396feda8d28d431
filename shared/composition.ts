import { defaultAdapterRegistry, type AdapterRegistry } from './adapters/registry';
import { ConnectionService } from './core/connectionService';
import { createEngineContext, type EngineContext, type SyncEngineOptions } from './core/runs/engineContext';
import { ConnectionRuns } from './core/runs/connectionRuns';
import { RunService } from './core/runs/runService';
import { Scheduler } from './core/runs/scheduler';
import { StepRunner } from './core/runs/stepRunner';
import { TenantService } from './core/tenantService';
import type { Platform } from './ports/platform';
import { CustomMergeRules } from './core/merge';
import { TracingQueueSender } from './core/tracingQueueSender';
import { resolveBackoff, type PushRetryOptions, type ResolvedPushRetryOptions } from './core/outbound/backoff';

/** The product's services wired to one platform: what every function handler works with. */
export interface Services {
  platform: Platform;
  adapters: AdapterRegistry;
  engine: EngineContext;
  runs: RunService;
  steps: StepRunner;
  scheduler: Scheduler;
  connections: ConnectionService;
  tenants: TenantService;
  /** Custom merge rules, registered in code; connection merge policies name them (checked at save). */
  customRules: CustomMergeRules;
  /** The retry schedule of failed pushes (the outbound worker's; app settings on Azure and `npm start`). */
  pushRetry: ResolvedPushRetryOptions;
}

export interface ServicesOptions {
  adapters?: AdapterRegistry;
  customRules?: CustomMergeRules;
  engine?: SyncEngineOptions;
  pushRetry?: PushRetryOptions;
}

export function createServices(platformIn: Platform, options: ServicesOptions = {}): Services {
  // Every message the product sends carries the current trace and its send time.
  const platform = withTracingQueue(platformIn);
  const adapters = options.adapters ?? defaultAdapterRegistry();
  const customRules = options.customRules ?? new CustomMergeRules();
  const engine = createEngineContext(platform, adapters, options.engine, customRules);
  return {
    platform,
    adapters,
    engine,
    runs: new RunService(engine),
    steps: new StepRunner(engine),
    scheduler: new Scheduler(engine),
    connections: new ConnectionService(platform, adapters, new ConnectionRuns(engine), customRules),
    tenants: new TenantService(platform),
    customRules,
    pushRetry: resolveBackoff(options.pushRetry),
  };
}

/** The same platform, its queue wrapped by TracingQueueSender (the platform's other members unchanged). */
function withTracingQueue(platform: Platform): Platform {
  if (platform.queue instanceof TracingQueueSender) return platform;
  const queue = new TracingQueueSender(platform.queue);
  return new Proxy(platform, { get: (target, key, receiver) => (key === 'queue' ? queue : Reflect.get(target, key, receiver)) });
}
