import { InvocationContext, type InvocationContextExtraInputs, type InvocationContextExtraOutputs, type InvocationContextInit, type LogHandler } from '@azure/functions';

/**
 * The InvocationContext a function receives on the local host: an instance of the library's
 * class (its prototype chain), with the same fields, defaults and methods as the library's
 * constructor gives, kept in native private fields.
 *
 * Why not `new InvocationContext(init)`: the library is compiled to ES2015, so its private fields
 * are WeakMaps (the context's log handler, each extra-bindings object's values), three entries
 * per invocation. Under load those made every young-generation collection slow (each WeakMap
 * entry of a young key is an ephemeron the scavenger must process) and kept many contexts alive
 * into the old generation: on the webhook receipt path, 2 MB promoted per scavenge and pauses of
 * ~6 ms from contexts alone (docs/webhook-intake.md "Objects that outlived their request").
 * tests/unit/local/hostInvocationContext.test.ts holds it to the library's own objects.
 */
export function hostInvocationContext(init: HostInvocationContextInit): InvocationContext {
  return new HostInvocationContext(init) as unknown as InvocationContext;
}

/** The host always says where the function's logs go (the library would fall back to the console). */
export type HostInvocationContextInit = InvocationContextInit & { logHandler: LogHandler };

const FALLBACK = 'unknown';

class HostInvocationContext {
  // Declared in the library's order, so that the own fields enumerate (and serialise) as there.
  invocationId: string;
  functionName: string;
  extraInputs: InvocationContextExtraInputs;
  extraOutputs: InvocationContextExtraOutputs;
  retryContext: InvocationContextInit['retryContext'];
  traceContext: InvocationContextInit['traceContext'];
  triggerMetadata: InvocationContextInit['triggerMetadata'];
  options: InvocationContext['options'];
  readonly #logHandler: LogHandler;

  constructor(init: HostInvocationContextInit) {
    this.invocationId = init.invocationId || FALLBACK;
    this.functionName = init.functionName || FALLBACK;
    this.extraInputs = new NamedBindings();
    this.extraOutputs = new NamedBindings();
    this.retryContext = init.retryContext;
    this.traceContext = init.traceContext;
    this.triggerMetadata = init.triggerMetadata;
    this.options = {
      trigger: init.options?.trigger || { name: FALLBACK, type: FALLBACK },
      return: init.options?.return,
      extraInputs: init.options?.extraInputs || [],
      extraOutputs: init.options?.extraOutputs || [],
    } as InvocationContext['options'];
    this.#logHandler = init.logHandler;
  }

  log(...args: unknown[]): void {
    this.#logHandler.call(this, 'information', ...args);
  }

  trace(...args: unknown[]): void {
    this.#logHandler.call(this, 'trace', ...args);
  }

  debug(...args: unknown[]): void {
    this.#logHandler.call(this, 'debug', ...args);
  }

  info(...args: unknown[]): void {
    this.#logHandler.call(this, 'information', ...args);
  }

  warn(...args: unknown[]): void {
    this.#logHandler.call(this, 'warning', ...args);
  }

  error(...args: unknown[]): void {
    this.#logHandler.call(this, 'error', ...args);
  }
}
Object.setPrototypeOf(HostInvocationContext.prototype, InvocationContext.prototype);

/** extraInputs / extraOutputs: values by binding name, the binding given by its name or as an object with one. */
class NamedBindings {
  readonly #values: Record<string, unknown> = {};

  get(inputOrName: string | { name: string }): unknown {
    return this.#values[typeof inputOrName === 'string' ? inputOrName : inputOrName.name];
  }

  set(inputOrName: string | { name: string }, value: unknown): void {
    this.#values[typeof inputOrName === 'string' ? inputOrName : inputOrName.name] = value;
  }
}
