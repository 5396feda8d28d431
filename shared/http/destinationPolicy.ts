import { BlockList, isIP } from 'node:net';
import { SyncBridgeError } from '../core/errors';

/**
 * Which addresses SyncBridge may call as a provider. A connection's URLs (config.baseUrl, the OAuth
 * token URL) are set by whoever holds an admin key, and what a provider answers is read back as
 * records: without a policy, a base URL of http://169.254.169.254/ would read the cloud instance
 * metadata service (or, on Azure, the App Service identity endpoint on localhost) into the store.
 * The policy is applied where fetch opens a connection (destinationGuard.ts).
 */

/** The range an address falls in; `public` is everything else. */
export type AddressRange = 'public' | 'loopback' | 'private' | 'unique-local' | 'link-local' | 'unspecified' | 'multicast' | 'reserved';

/** The process setting that allows loopback, private and unique-local provider addresses. */
export const ALLOW_PRIVATE_SETTING = 'SYNCBRIDGE_ALLOW_PRIVATE_PROVIDER_HOSTS';
/** The process setting listing exact addresses allowed whatever their range. */
export const ALLOWED_ADDRESSES_SETTING = 'SYNCBRIDGE_ALLOWED_PROVIDER_ADDRESSES';

export interface DestinationPolicy {
  /** Loopback, private (RFC 1918, CGNAT 100.64/10) and unique-local (fc00::/7) addresses: allowed on the local platform, refused on Azure by default. */
  allowPrivate: boolean;
  /** Exact IP addresses allowed whatever their range (a provider on the virtual network, on purpose). */
  allowedAddresses?: readonly string[];
}

/** Ranges refused whatever allowPrivate says (only allowedAddresses lets one through). */
const ALWAYS_REFUSED: ReadonlySet<AddressRange> = new Set(['link-local', 'unspecified', 'multicast', 'reserved']);

/** First match wins: `::1` is loopback before `::/96` is reserved. */
const RANGES: ReadonlyArray<[AddressRange, BlockList]> = (() => {
  const table: Array<[AddressRange, Array<[string, number, 'ipv4' | 'ipv6']>]> = [
    ['unspecified', [['0.0.0.0', 8, 'ipv4'], ['::', 128, 'ipv6']]],
    ['loopback', [['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']]],
    ['link-local', [['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']]],
    ['private', [['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['100.64.0.0', 10, 'ipv4']]],
    ['unique-local', [['fc00::', 7, 'ipv6']]],
    ['multicast', [['224.0.0.0', 4, 'ipv4'], ['ff00::', 8, 'ipv6']]],
    // 240/4 includes the broadcast address; ::/96 is the deprecated IPv4-compatible form (::a.b.c.d).
    ['reserved', [['240.0.0.0', 4, 'ipv4'], ['::', 96, 'ipv6']]],
  ];
  return table.map(([range, subnets]) => {
    const list = new BlockList();
    for (const [network, prefix, family] of subnets) list.addSubnet(network, prefix, family);
    return [range, list] as [AddressRange, BlockList];
  });
})();

/** The IPv4 address an IPv4-mapped IPv6 address (::ffff:a.b.c.d, ::ffff:XXXX:XXXX) carries, else the address. */
function unmapped(address: string): string {
  const mapped = /^(?:0{1,4}:){5}ffff:(.+)$|^::ffff:(.+)$/i.exec(address);
  if (!mapped) return address;
  const rest = mapped[1] ?? mapped[2];
  if (isIP(rest) === 4) return rest;
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(rest);
  if (!hex) return address;
  const high = parseInt(hex[1], 16);
  const low = parseInt(hex[2], 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** An address without the brackets a URL host puts around IPv6. */
export function bareAddress(host: string): string {
  return host.replace(/^\[|\]$/g, '');
}

/** The range an IP address (v4 or v6, brackets allowed) falls in; IPv4-mapped IPv6 counts as the IPv4 it carries. */
export function classifyAddress(address: string): AddressRange {
  const bare = unmapped(bareAddress(address));
  const family = isIP(bare);
  if (family === 0) throw new Error(`"${address}" is not an IP address.`);
  for (const [range, list] of RANGES) {
    if (list.check(bare, family === 4 ? 'ipv4' : 'ipv6')) return range;
  }
  return 'public';
}

/** The range that makes the policy refuse an address, or undefined when it is allowed. */
export function refusedRange(address: string, policy: DestinationPolicy): AddressRange | undefined {
  const bare = bareAddress(address);
  if (policy.allowedAddresses?.some((allowed) => allowed === bare || unmapped(allowed) === unmapped(bare))) return undefined;
  const range = classifyAddress(bare);
  if (range === 'public') return undefined;
  if (ALWAYS_REFUSED.has(range)) return range;
  return policy.allowPrivate ? undefined : range;
}

/** What an operator can do about a refusal of `range`. */
export function remedyFor(range: AddressRange): string {
  return ALWAYS_REFUSED.has(range)
    ? `${range} addresses are never called (the cloud instance metadata service is one); list the address in ${ALLOWED_ADDRESSES_SETTING} only if it really is the provider`
    : `set ${ALLOW_PRIVATE_SETTING}=true to allow loopback and private addresses, or list the address in ${ALLOWED_ADDRESSES_SETTING}`;
}

/** The local platform's policy, and the process's until the platform composition sets one. */
export const PRIVATE_ALLOWED: DestinationPolicy = Object.freeze({ allowPrivate: true });

let processPolicy: DestinationPolicy = PRIVATE_ALLOWED;

/**
 * The policy of this process, chosen by the platform composition (shared/platform/factory.ts,
 * local/start.ts) from the environment. Process-wide because fetch's connections are: a client
 * built without an explicit policy uses this one.
 */
export function providerDestinationPolicy(): DestinationPolicy {
  return processPolicy;
}

export function setProviderDestinationPolicy(policy: DestinationPolicy): void {
  processPolicy = policy;
}

/** Reads the policy from the environment; `allowPrivateByDefault` is the platform's default (true locally, false on Azure). */
export function destinationPolicyFromEnv(env: NodeJS.ProcessEnv, allowPrivateByDefault: boolean): DestinationPolicy {
  const raw = (env[ALLOW_PRIVATE_SETTING] ?? '').trim().toLowerCase();
  let allowPrivate = allowPrivateByDefault;
  if (raw === 'true' || raw === '1') allowPrivate = true;
  else if (raw === 'false' || raw === '0') allowPrivate = false;
  else if (raw !== '') throw new SyncBridgeError('configuration', `${ALLOW_PRIVATE_SETTING} must be true or false, not "${env[ALLOW_PRIVATE_SETTING]}".`);
  const allowedAddresses = (env[ALLOWED_ADDRESSES_SETTING] ?? '').split(',').map((a) => bareAddress(a.trim())).filter(Boolean);
  for (const address of allowedAddresses) {
    if (isIP(address) === 0) throw new SyncBridgeError('configuration', `${ALLOWED_ADDRESSES_SETTING} lists "${address}", which is not an IP address.`);
  }
  return { allowPrivate, allowedAddresses };
}
