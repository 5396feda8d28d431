import type { InvocationContext, Timer } from '@azure/functions';
import type { FunctionDefinition } from './definition';
import { getServices } from './services';

/**
 * Every five minutes: refresh OAuth credentials that expire soon. This release supports only
 * API-key and bearer credentials, which do not expire, so the tick reports how many connections it
 * checked and that none needed a refresh.
 */
export async function tokenRefresherHandler(_timer: Timer, context: InvocationContext): Promise<void> {
  const { platform } = await getServices();
  let checked = 0;
  let afterId: string | undefined;
  for (;;) {
    const page = await platform.connections.listAll({ afterId, limit: 200 });
    if (page.length === 0) break;
    checked += page.length;
    afterId = page[page.length - 1].id;
  }
  context.log(`Token refresher: ${checked} connections checked; none holds an expiring OAuth credential in this release.`);
}

export const tokenRefresher: FunctionDefinition = {
  kind: 'timer',
  name: 'tokenRefresher',
  options: { schedule: '0 */5 * * * *', handler: tokenRefresherHandler },
};
