import type { Services } from '../../composition';
import { LocalChangeService } from './localChanges';
import { OutboundService, type OutboundServiceOptions } from './outboundService';

export interface TwoWaySync {
  changes: LocalChangeService;
  outbound: OutboundService;
}

const byServices = new WeakMap<Services, TwoWaySync>();

/**
 * The two-way sync services of one composition, built on first use and kept beside it (like the
 * webhook intake), so that functions reach them without another field on Services. Options apply
 * only on the first call (tests pass short retry delays there).
 */
export function twoWayFor(services: Services, options?: OutboundServiceOptions): TwoWaySync {
  let found = byServices.get(services);
  if (!found) {
    found = { changes: new LocalChangeService(services.platform), outbound: new OutboundService(services.platform, services.adapters, options) };
    byServices.set(services, found);
  }
  return found;
}
