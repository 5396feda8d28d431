import type { InvocationContext, Timer } from '@azure/functions';
import type { FunctionDefinition } from './definition';
import { getServices } from './services';
import { inTimerTrace } from './timerTrace';

/**
 * Every minute: start runs for connections whose own schedule (cron + time zone) fired. The tick
 * is cheap (one paged scan of connections), and a one-minute tick honours per-minute schedules.
 */
export async function schedulerHandler(timer: Timer, context: InvocationContext): Promise<void> {
  return inTimerTrace(async () => {
    const { scheduler } = await getServices();
    const result = await scheduler.tick();
    context.log(`Scheduler: ${result.considered} connections, ${result.started.length} runs started, ${result.waiting.length} waiting for an open run, ${result.skipped.length} skipped, ${result.failed.length} failed to start${timer.isPastDue ? ' (tick was late)' : ''}.`);
  });
}

export const scheduler: FunctionDefinition = {
  kind: 'timer',
  name: 'scheduler',
  options: { schedule: '0 * * * * *', handler: schedulerHandler },
};
