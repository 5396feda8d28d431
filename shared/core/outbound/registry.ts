import type { Services } from '../../composition';
import { ConflictResolver } from './conflictResolution';
import { LocalChangeService } from './localChanges';
import { OutboundService, type OutboundServiceOptions } from './outboundService';

export interface TwoWaySync {
  changes: LocalChangeService;
  outbound: OutboundService;
  conflicts: ConflictResolver;
}

const byServices = new WeakMap<Services, TwoWaySync>();

/**
 * The two-way sync services of one composition, built on first use and kept beside it (like the
 * webhook intake), so that functions reach them without another field on Services. The retry
 * schedule is the composition's (`Services.pushRetry`) unless `options.retry` says otherwise;
 * options apply only on the first call (tests pass short retry delays there).
 */
export function twoWayFor(services: Services, options?: OutboundServiceOptions): TwoWaySync {
  let found = byServices.get(services);
  if (!found) {
    const changes = new LocalChangeService(services.platform);
    found = { changes, outbound: new OutboundService(services.platform, services.adapters, { ...options, retry: options?.retry ?? services.pushRetry, customRules: options?.customRules ?? services.customRules }), conflicts: new ConflictResolver(services.platform, changes) };
    byServices.set(services, found);
  }
  return found;
}
