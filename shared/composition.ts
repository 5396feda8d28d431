import { defaultAdapterRegistry, type AdapterRegistry } from './adapters/registry';
import { ConnectionService } from './core/connectionService';
import { createEngineContext, type EngineContext, type SyncEngineOptions } from './core/runs/engineContext';
import { RunService } from './core/runs/runService';
import { Scheduler } from './core/runs/scheduler';
import { StepRunner } from './core/runs/stepRunner';
import { TenantService } from './core/tenantService';
import type { Platform } from './ports/platform';

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
}

export interface ServicesOptions {
  adapters?: AdapterRegistry;
  engine?: SyncEngineOptions;
}

export function createServices(platform: Platform, options: ServicesOptions = {}): Services {
  const adapters = options.adapters ?? defaultAdapterRegistry();
  const engine = createEngineContext(platform, adapters, options.engine);
  return {
    platform,
    adapters,
    engine,
    runs: new RunService(engine),
    steps: new StepRunner(engine),
    scheduler: new Scheduler(engine),
    connections: new ConnectionService(platform, adapters),
    tenants: new TenantService(platform),
  };
}
