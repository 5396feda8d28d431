import type { InvocationContext, Timer } from '@azure/functions';
import { SyncBridgeError } from '../shared/core/errors';
import { twoWayFor } from '../shared/core/outbound/registry';
import type { FunctionDefinition } from './definition';
import { getServices } from './services';
import { inTimerTrace } from './timerTrace';

const DEFAULT_IDLE_SECONDS = 120;

/**
 * Every two minutes: re-sends the queue message of every push that has been pending and untouched
 * for SYNCBRIDGE_OUTBOX_RELAY_IDLE_SECONDS (default 120) counted from its last update or, for a
 * scheduled retry, from when that retry was due — a change committed by an instance that died
 * before its message reached Service Bus. A retry waiting for a provider's Retry-After is not
 * re-sent early. Hosts that never restart need this; `npm start` also relays once at start.
 * Duplicate detection and the entry's state make a re-send harmless.
 */
export async function outboxRelayHandler(_timer: Timer, context: InvocationContext): Promise<void> {
  return inTimerTrace(async () => {
    const services = await getServices();
    const idleSeconds = relayIdleSeconds(process.env);
    const relayed = await twoWayFor(services).changes.relayPending(undefined, { idleForMs: idleSeconds * 1000 });
    if (relayed > 0) context.log(`Outbox relay: re-sent ${relayed} push(es) pending and idle for ${idleSeconds} s or more.`);
  });
}

export function relayIdleSeconds(env: NodeJS.ProcessEnv): number {
  const raw = env.SYNCBRIDGE_OUTBOX_RELAY_IDLE_SECONDS;
  if (raw === undefined || raw === '') return DEFAULT_IDLE_SECONDS;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 30) {
    throw new SyncBridgeError('configuration', `SYNCBRIDGE_OUTBOX_RELAY_IDLE_SECONDS must be a number of seconds of at least 30 (longer than a push attempt may take once due); got '${raw}'.`);
  }
  return value;
}

export const outboxRelay: FunctionDefinition = {
  kind: 'timer',
  name: 'outboxRelay',
  options: { schedule: '30 */2 * * * *', handler: outboxRelayHandler },
};
