import { BlockList, isIP } from 'node:net';
import { SyncBridgeError } from '../core/errors';

/**
 * Where SyncBridge may send a provider request. A connection's URLs (config.baseUrl, the OAuth
 * token URL) are set by whoever holds an admin key, and what a provider answers is read back as
 * records: without this guard, a base URL of http://169.254.169.254/ would read the Azure instance
 * metadata service (or the App Service identity endpoint on localhost) into the store.
 *
 * The check is on the address actually connected to, not only on the URL: guardedFetch resolves a
 * host name, checks every address, and connects to the checked address, so that a name which
 * resolves to a public address when validated and to a private one at call time (DNS rebinding)
 * is refused.
 */

/** The ranges an address can fall in; `public` is everything else. */
export type AddressClass = 'public' | 'loopback' | 'private' | 'unique-local' | 'link-local' | 'unspecified' | 'multicast' | 'reserved';

/** The setting that allows loopback, private and unique-local provider addresses. */
export const ALLOW_PRIVATE_SETTING = 'SYNCBRIDGE_ALLOW_PRIVATE_PROVIDER_HOSTS';
/** Exact addresses allowed whatever their range (e.g. a provider on a link-local address, on purpose). */
export const ALLOWED_ADDRESSES_SETTING = 'SYNCBRIDGE_ALLOWED_PROVIDER_ADDRESSES';

export interface DestinationPolicy {
  /** Loopback, private (RFC 1918, CGNAT) and unique-local addresses: allowed on the local platform, refused on Azure by default. */
  allowPrivate: boolean;
  /** Exact IP addresses allowed whatever their range. */
  allowedAddresses?: readonly string[];
}

/** Ranges refused whatever allowPrivate says (only allowedAddresses lets one through). */
const ALWAYS_REFUSED: ReadonlySet<AddressClass> = new Set(['link-local', 'unspecified', 'multicast', 'reserved']);

const RANGES: ReadonlyArray<[AddressClass, BlockList]> = (() => {
  const table: Array<[AddressClass, Array<[string, number, 'ipv4' | 'ipv6']>]> = [
    ['unspecified', [['0.0.0.0', 8, 'ipv4'], ['::', 128, 'ipv6']]],
    ['loopback', [['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']]],
    ['link-local', [['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']]],
    ['private', [['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['100.64.0.0', 10, 'ipv4']]],
    ['unique-local', [['fc00::', 7, 'ipv6']]],
    ['multicast', [['224.0.0.0', 4, 'ipv4'], ['ff00::', 8, 'ipv6']]],
    ['reserved', [['240.0.0.0', 4, 'ipv4']]], // includes the broadcast address 255.255.255.255
  ];
  return table.map(([name, subnets]) => {
    const list = new BlockList();
    for (const [network, prefix, family] of subnets) list.addSubnet(network, prefix, family);
    return [name, list] as [AddressClass, BlockList];
  });
})();

/** The IPv4 address an IPv4-mapped IPv6 address (::ffff:a.b.c.d or ::ffff:XXXX:XXXX) carries, else the address. */
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

/** The range an IP address (v4 or v6, brackets allowed) falls in. Throws on something that is not an IP. */
export function classifyAddress(address: string): AddressClass {
  const bare = unmapped(address.replace(/^\[|\]$/g, ''));
  const family = isIP(bare);
  if (family === 0) throw new Error(`"${address}" is not an IP address.`);
  for (const [name, list] of RANGES) {
    if (list.check(bare, family === 4 ? 'ipv4' : 'ipv6')) return name;
  }
  return 'public';
}

/** Why an address is refused under a policy, or undefined when it is allowed. */
export function refusalOf(address: string, policy: DestinationPolicy): AddressClass | undefined {
  const bare = address.replace(/^\[|\]$/g, '');
  if (policy.allowedAddresses?.some((allowed) => allowed === bare || unmapped(allowed) === unmapped(bare))) return undefined;
  const range = classifyAddress(bare);
  if (range === 'public') return undefined;
  if (ALWAYS_REFUSED.has(range)) return range;
  return policy.allowPrivate ? undefined : range;
}

/** The `configuration` error for a refused destination, naming the connection setting and the process setting. */
export function destinationRefused(setting: string, host: string, address: string, range: AddressClass): SyncBridgeError {
  const where = host === address ? address : `${host} (${address})`;
  const remedy = ALWAYS_REFUSED.has(range)
    ? `${range} addresses are never called (they include the cloud metadata service); list the address in ${ALLOWED_ADDRESSES_SETTING} if it really is the provider`
    : `set ${ALLOW_PRIVATE_SETTING}=true to allow loopback and private addresses, or list the address in ${ALLOWED_ADDRESSES_SETTING}`;
  return new SyncBridgeError('configuration', `The connection's ${setting} points at ${where}, a ${range} address, which SyncBridge refuses to call: ${remedy}.`);
}

/**
 * The check that needs no DNS: a literal IP or a localhost name in a URL. Used when a connection is
 * created or updated (a `validation` error, HTTP 400); guardedFetch checks every call again.
 */
export function literalRefusal(url: URL, policy: DestinationPolicy): { address: string; range: AddressClass } | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(host) !== 0) {
    const range = refusalOf(host, policy);
    return range ? { address: host, range } : undefined;
  }
  if (host === 'localhost' || host.endsWith('.localhost')) {
    const range = refusalOf('127.0.0.1', policy);
    return range ? { address: '127.0.0.1', range } : undefined;
  }
  return undefined;
}

/** Throws a `validation` error when a configured URL names a refused literal address (create/update time). */
export function assertConfiguredUrlAllowed(setting: string, value: string, policy: DestinationPolicy = providerDestinationPolicy()): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return; // the caller reports an unparsable URL in its own words
  }
  const refused = literalRefusal(url, policy);
  if (refused) {
    const error = destinationRefused(setting, url.hostname, refused.address, refused.range);
    throw new SyncBridgeError('validation', error.message);
  }
}

let processPolicy: DestinationPolicy = { allowPrivate: true };

/**
 * The policy of this process, chosen by the platform composition (shared/platform/factory.ts) from
 * SYNCBRIDGE_ALLOW_PRIVATE_PROVIDER_HOSTS, whose default is true on the local platform (the sandbox
 * and the demo run on 127.0.0.1) and false on Azure. Process-wide because outbound connections are:
 * a client built without an explicit policy uses this one.
 */
export function providerDestinationPolicy(): DestinationPolicy {
  return processPolicy;
}

export function setProviderDestinationPolicy(policy: DestinationPolicy): void {
  processPolicy = policy;
}

/** Reads the policy from the environment; `allowPrivateByDefault` is the platform's default. */
export function destinationPolicyFromEnv(env: NodeJS.ProcessEnv, allowPrivateByDefault: boolean): DestinationPolicy {
  const raw = (env[ALLOW_PRIVATE_SETTING] ?? '').trim().toLowerCase();
  let allowPrivate = allowPrivateByDefault;
  if (raw === 'true' || raw === '1') allowPrivate = true;
  else if (raw === 'false' || raw === '0') allowPrivate = false;
  else if (raw !== '') throw new SyncBridgeError('configuration', `${ALLOW_PRIVATE_SETTING} must be true or false, not "${env[ALLOW_PRIVATE_SETTING]}".`);
  const allowedAddresses = (env[ALLOWED_ADDRESSES_SETTING] ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  for (const address of allowedAddresses) {
    if (isIP(address.replace(/^\[|\]$/g, '')) === 0) throw new SyncBridgeError('configuration', `${ALLOWED_ADDRESSES_SETTING} lists "${address}", which is not an IP address.`);
  }
  return { allowPrivate, allowedAddresses };
}
