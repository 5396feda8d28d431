import type { HttpFunctionOptions, ServiceBusQueueFunctionOptions, TimerFunctionOptions } from '@azure/functions';

/**
 * One Azure Function: its name, trigger kind and the exact options handed to
 * `app.http` / `app.timer` / `app.serviceBusQueue`. functions/index.ts registers these with the
 * Functions host; local/ runs the same definitions with the host's semantics.
 */
export type FunctionDefinition =
  | { kind: 'http'; name: string; options: HttpFunctionOptions }
  | { kind: 'timer'; name: string; options: TimerFunctionOptions }
  | { kind: 'serviceBusQueue'; name: string; options: ServiceBusQueueFunctionOptions };
