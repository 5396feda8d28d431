import type { Platform } from '../../ports/platform';
import { CredentialService, type CredentialServiceOptions } from './credentialService';

const services = new WeakMap<Platform, CredentialService>();

/**
 * The one CredentialService of a platform. In-process single-flight only works when the timer,
 * the workers and the connect flow share one instance, so everything asks here; the options of
 * the first call win (tests configure it before the host starts).
 */
export function credentialServiceFor(platform: Platform, options?: CredentialServiceOptions): CredentialService {
  let service = services.get(platform);
  if (!service) {
    service = new CredentialService(platform, options);
    services.set(platform, service);
  }
  return service;
}
