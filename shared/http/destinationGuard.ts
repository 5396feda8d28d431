import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP } from 'node:net';
import type { Agent, Dispatcher } from 'undici-types';
import { SyncBridgeError } from '../core/errors';
import { bareAddress, refusedRange, remedyFor, type AddressRange, type DestinationPolicy } from './destinationPolicy';

/**
 * The destination policy applied inside fetch's own connection setup: an undici Agent, passed as
 * fetch's `dispatcher`, whose connector resolves a host name with a `lookup` that checks every
 * address and hands the socket only the checked ones. So the check runs once per new socket, not
 * per request (keep-alive sockets are reused as with the global dispatcher), and nothing resolves
 * the name a second time between check and connect (no DNS-rebinding gap). A host that is an IP
 * literal skips lookup, so the Agent's `dispatch` checks the literal of each origin (once per
 * origin, cached) before any socket is asked for.
 *
 * The Agent class is the one inside Node's own fetch: Node 20 does not export it, but the fetch
 * it bundles (undici) registers its global dispatcher, an Agent, under a Symbol.for key that every
 * undici copy shares, so its constructor is reachable without a second undici (docs/libraries.md).
 */

/** A provider address the policy refused: the URL's host and the address it is or resolved to. */
export interface DestinationRefusal {
  host: string;
  address: string;
  range: AddressRange;
}

/** Where a refusal rides on the error fetch rejects with (its `cause`). */
const REFUSAL = Symbol.for('syncbridge.destinationRefusal');

/**
 * The error the connection setup fails with. A plain Error, tagged: undici's fetch passes an Error
 * through as its `cause`, but replaces anything it does not take for one (an Error subclass from
 * another realm, as a Jest test's is) by a copy of its text, which would lose the refusal.
 */
function refusalError(refusal: DestinationRefusal): Error {
  return Object.assign(new Error(`SyncBridge refused to connect to ${describeRefusal(refusal)}: ${remedyFor(refusal.range)}.`), { code: 'ERR_SYNCBRIDGE_DESTINATION_REFUSED', [REFUSAL]: refusal });
}

/** "the host x (resolved to y), a loopback address": the host and the address, never a path or a credential. */
export function describeRefusal({ host, address, range }: DestinationRefusal): string {
  return `${host === address ? `the address ${address}` : `the host ${host} (resolved to ${address})`}, a ${range} address`;
}

/** The refusal a failed fetch carries (fetch rejects with TypeError('fetch failed', { cause })), if any. */
export function destinationRefusalIn(error: unknown): DestinationRefusal | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth++) {
    const refusal = (current as { [REFUSAL]?: DestinationRefusal })[REFUSAL];
    if (refusal) return refusal;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The key undici registers its global dispatcher under, shared by every undici copy (its global.js). */
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

type AgentClass = new (options?: Agent.Options) => Agent;

function fetchAgentClass(): AgentClass {
  void globalThis.Headers; // reading a fetch global loads Node's undici, which registers its dispatcher
  const dispatcher = (globalThis as unknown as Record<symbol, { constructor?: unknown } | undefined>)[GLOBAL_DISPATCHER];
  const agent = dispatcher?.constructor as (AgentClass & { name?: string }) | undefined;
  if (typeof agent !== 'function' || agent.name !== 'Agent') {
    throw new SyncBridgeError('configuration', "The undici Agent of Node's fetch is not reachable (no global dispatcher of class Agent), so provider destinations cannot be checked.");
  }
  return agent;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for net.connect that resolves, refuses a name if any of its addresses is refused, and returns only checked addresses. */
function guardedLookup(policy: DestinationPolicy) {
  return (hostname: string, options: { all?: boolean } & Omit<LookupAllOptions, 'all'>, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      for (const { address } of addresses) {
        const range = refusedRange(address, policy);
        if (range) return callback(refusalError({ host: hostname, address, range }), []);
      }
      if (options.all) return callback(null, addresses);
      if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} resolved to no address`), { code: 'ENOTFOUND' }), []);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

/** The refusal for an origin whose host is an IP literal (lookup never sees those), or null. */
function literalRefusal(origin: string, policy: DestinationPolicy): DestinationRefusal | null {
  let host: string;
  try {
    host = bareAddress(new URL(origin).hostname);
  } catch {
    return null; // undici reports an unusable origin itself
  }
  if (isIP(host) === 0) return null;
  const range = refusedRange(host, policy);
  return range ? { host, address: host, range } : null;
}

/** Origins are few (one per connection's base URL); the cap only bounds a pathological tenant. */
const MAX_CACHED_ORIGINS = 1024;

function createGuardedAgent(policy: DestinationPolicy): Dispatcher {
  const Base = fetchAgentClass();
  const literals = new Map<string, DestinationRefusal | null>();
  class GuardedAgent extends Base {
    override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): boolean {
      const origin = String(options.origin);
      let refusal = literals.get(origin);
      if (refusal === undefined) {
        if (literals.size >= MAX_CACHED_ORIGINS) literals.clear();
        refusal = literalRefusal(origin, policy);
        literals.set(origin, refusal);
      }
      if (refusal) {
        // As undici's own dispatch reports a bad request: to the handler, before any socket.
        handler.onError?.(refusalError(refusal));
        return false;
      }
      return super.dispatch(options, handler);
    }
  }
  return new GuardedAgent({ connect: { lookup: guardedLookup(policy) } as Agent.Options['connect'] });
}

const dispatchers = new WeakMap<DestinationPolicy, Dispatcher>();

/** The fetch dispatcher that enforces `policy`: one per policy object, sharing its keep-alive pool across clients. */
export function guardedDispatcher(policy: DestinationPolicy): Dispatcher {
  let dispatcher = dispatchers.get(policy);
  if (!dispatcher) {
    dispatcher = createGuardedAgent(policy);
    dispatchers.set(policy, dispatcher);
  }
  return dispatcher;
}
