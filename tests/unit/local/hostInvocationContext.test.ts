import { InvocationContext, type LogHandler } from '@azure/functions';
import { hostInvocationContext } from '../../../local/hostInvocationContext';
import { createInvocationContext } from '../../../local/invocation';

/**
 * The host builds its InvocationContext without the library's constructor
 * (local/hostInvocationContext.ts): it must still be the library's class, with the fields,
 * defaults, logging and extra bindings the library's own object has.
 */
describe('the local host invocation context, against the library\'s own', () => {
  const calls: Array<{ self: unknown; level: string; args: unknown[] }> = [];
  const logHandler: LogHandler = function (this: unknown, level, ...args) {
    calls.push({ self: this, level, args });
  };
  const init = {
    invocationId: 'inv-1',
    functionName: 'webhookReceiver',
    triggerMetadata: { Headers: { a: 'b' } },
    retryContext: { retryCount: 1, maxRetryCount: 3 },
    traceContext: { traceParent: '00-abc-def-01', attributes: {} },
    logHandler,
  };

  it('is an instance of the library\'s InvocationContext, with the same own fields and values, defaults included', () => {
    const context = hostInvocationContext(init);
    const library = new InvocationContext(init);
    expect(context).toBeInstanceOf(InvocationContext);
    expect(Object.keys(context)).toEqual(Object.keys(library));
    for (const key of ['invocationId', 'functionName', 'retryContext', 'traceContext', 'triggerMetadata', 'options'] as const) expect(context[key]).toEqual(library[key]);
    expect(JSON.stringify(context)).toBe(JSON.stringify(library));
    // Defaults, as the library's: "unknown" names and trigger, empty binding lists.
    const bare = hostInvocationContext({ logHandler });
    const libraryBare = new InvocationContext({ logHandler });
    expect({ ...bare, extraInputs: undefined, extraOutputs: undefined }).toEqual({ ...libraryBare, extraInputs: undefined, extraOutputs: undefined });
    expect(bare.invocationId).toBe('unknown');
    expect(bare.options.trigger).toEqual({ name: 'unknown', type: 'unknown' });
  });

  it('shadows every member of the library\'s prototype (whose private fields it does not have)', () => {
    const context = hostInvocationContext(init);
    const members = Object.getOwnPropertyNames(InvocationContext.prototype).filter((name) => name !== 'constructor');
    const own = Object.getOwnPropertyNames(Object.getPrototypeOf(context));
    expect(members.length).toBeGreaterThan(0);
    expect(members.filter((name) => !own.includes(name))).toEqual([]);
  });

  it('logs each level through the handler, called on the context, as the library\'s does', () => {
    const levels = (context: InvocationContext) => {
      calls.length = 0;
      context.log('l', 1);
      context.trace('t');
      context.debug('d');
      context.info('i');
      context.warn('w');
      context.error('e', { x: 1 });
      return calls.map(({ self, level, args }) => ({ self: self === context, level, args }));
    };
    expect(levels(hostInvocationContext(init))).toEqual(levels(new InvocationContext(init)));
    expect(levels(hostInvocationContext(init)).map((c) => c.level)).toEqual(['information', 'trace', 'debug', 'information', 'warning', 'error']);
  });

  it('keeps extra inputs and outputs by binding name, given as a name or as a binding object', () => {
    for (const context of [hostInvocationContext(init), new InvocationContext(init)]) {
      context.extraOutputs.set('out', 1);
      context.extraOutputs.set({ name: 'queue', type: 'serviceBus' } as never, [2]);
      context.extraInputs.set('blob', 'b');
      expect([context.extraOutputs.get('out'), context.extraOutputs.get({ name: 'queue' } as never), context.extraInputs.get('blob'), context.extraInputs.get('none')]).toEqual([1, [2], 'b', undefined]);
    }
  });

  it('is what the host hands its functions (createInvocationContext), its log lines formatted and filtered by level', () => {
    const lines: string[] = [];
    const context = createInvocationContext('fn', (line) => lines.push(line), { a: 1 }, 'warning');
    expect(context).toBeInstanceOf(InvocationContext);
    context.info('dropped');
    context.warn('kept %d', 7);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\[warning\] fn \([0-9a-f-]{36}\): kept 7$/);
  });
});
