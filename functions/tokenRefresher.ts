import type { InvocationContext, Timer } from '@azure/functions';
import { credentialServiceFor } from '../shared/core/credentials/registry';
import { SyncBridgeError } from '../shared/core/errors';
import type { FunctionDefinition } from './definition';
import { getServices } from './services';
import { inTimerTrace } from './timerTrace';

const DEFAULT_WINDOW_SECONDS = 600;

/**
 * Every five minutes: refresh OAuth 2 credentials that expire within the window
 * (SYNCBRIDGE_TOKEN_REFRESH_WINDOW_SECONDS, default 600), through the same single-flight path the
 * workers use, so a timer and a worker never spend one refresh token twice.
 */
export async function tokenRefresherHandler(_timer: Timer, context: InvocationContext): Promise<void> {
  return inTimerTrace(async () => {
    const { platform } = await getServices();
    const windowSeconds = refreshWindowSeconds(process.env);
    const { checked, refreshed, failed } = await credentialServiceFor(platform).refreshExpiring(windowSeconds * 1000);
    context.log(`Token refresher: ${checked} connection(s) with credentials checked, ${refreshed} refreshed, ${failed} failed.`);
  });
}

export function refreshWindowSeconds(env: NodeJS.ProcessEnv): number {
  const raw = env.SYNCBRIDGE_TOKEN_REFRESH_WINDOW_SECONDS;
  if (raw === undefined || raw === '') return DEFAULT_WINDOW_SECONDS;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new SyncBridgeError('configuration', `SYNCBRIDGE_TOKEN_REFRESH_WINDOW_SECONDS must be a non-negative number of seconds; got '${raw}'.`);
  }
  return value;
}

export const tokenRefresher: FunctionDefinition = {
  kind: 'timer',
  name: 'tokenRefresher',
  options: { schedule: '0 */5 * * * *', handler: tokenRefresherHandler },
};
