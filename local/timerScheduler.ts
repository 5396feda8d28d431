import type { Timer, TimerFunctionOptions } from '@azure/functions';
import { createInvocationContext, describeError, hostLine, type FunctionLogLevel, type HostLog, type InFlightInvocations } from './invocation';
import { parseTimerSchedule, type TimerSchedule } from './timerSchedule';

export interface TimerFunction {
  name: string;
  options: TimerFunctionOptions;
}

export interface TimerSchedulerOptions {
  timers: readonly TimerFunction[];
  log: HostLog;
  /** Log an "Executed … (Succeeded …)" line per successful invocation; failures are always logged. */
  logInvocations: boolean;
  inFlight: InFlightInvocations;
  /** context.log calls below this level are dropped. Default 'information'. */
  functionLogLevel?: FunctionLogLevel;
  /** IANA zone NCRONTAB schedules are read in, like WEBSITE_TIME_ZONE. Default 'UTC'. */
  timeZone?: string;
}

/** setTimeout's ceiling; longer waits are re-armed. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** A run later than this after its occurrence is reported as past due. */
const PAST_DUE_AFTER_MS = 1_000;

/**
 * The timer trigger. Each timer fires at its schedule's occurrences (and once at start with
 * runOnStartup); an invocation never overlaps the previous one of the same function - a tick that
 * comes while it still runs is skipped, as the Functions host's singleton lock does.
 */
export class TimerScheduler {
  private readonly runners: TimerRunner[];

  constructor(options: TimerSchedulerOptions) {
    // Parse every schedule up front, so that a bad one fails the host start, naming the function.
    this.runners = options.timers.map((timer) => new TimerRunner(timer, parseTimerSchedule(timer.options.schedule, options.timeZone), options));
  }

  start(): void {
    for (const runner of this.runners) runner.start();
  }

  stop(): void {
    for (const runner of this.runners) runner.stop();
  }
}

class TimerRunner {
  private timeout: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;
  private lastOccurrence: Date | undefined;

  constructor(
    private readonly timer: TimerFunction,
    private readonly schedule: TimerSchedule,
    private readonly options: TimerSchedulerOptions,
  ) {}

  start(): void {
    const now = new Date();
    if (this.timer.options.runOnStartup === true) this.fire(now);
    this.arm(this.schedule.next(now));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timeout);
  }

  private arm(due: Date): void {
    if (this.stopped) return;
    const delayMs = Math.min(Math.max(due.getTime() - Date.now(), 0), MAX_TIMEOUT_MS);
    this.timeout = setTimeout(() => {
      if (Date.now() < due.getTime()) {
        this.arm(due); // woke early or the wait was longer than setTimeout allows
        return;
      }
      this.fire(due);
      this.arm(this.schedule.next(new Date(Math.max(Date.now(), due.getTime()))));
    }, delayMs);
  }

  private fire(due: Date): void {
    const name = this.timer.name;
    if (this.running) {
      this.options.log(hostLine('warning', `Timer '${name}' skipped the occurrence at ${due.toISOString()}: the previous invocation is still running.`));
      return;
    }
    const now = new Date();
    const myTimer: Timer = {
      isPastDue: now.getTime() - due.getTime() > PAST_DUE_AFTER_MS,
      schedule: { adjustForDST: true },
      scheduleStatus: {
        last: (this.lastOccurrence ?? this.schedule.previous(new Date(due.getTime() - 1))).toISOString(),
        next: this.schedule.next(due).toISOString(),
        lastUpdated: now.toISOString(),
      },
    };
    this.lastOccurrence = due;
    this.running = true;
    const context = createInvocationContext(name, this.options.log, { timer: myTimer }, this.options.functionLogLevel);
    const invocation = (async () => {
      try {
        await this.timer.options.handler(myTimer, context);
        if (this.options.logInvocations) this.options.log(hostLine('information', `Executed '${name}' (Succeeded, Id=${context.invocationId})`));
      } catch (error) {
        this.options.log(hostLine('error', `Executed '${name}' (Failed, Id=${context.invocationId}): ${describeError(error)}`));
      } finally {
        this.running = false;
      }
    })();
    void this.options.inFlight.track(invocation);
  }
}
