import { webhookOnlyProviders } from '../../../shared/adapters/providers/webhookOnly';

/**
 * Webhook-only providers make no pull or push calls, but their adapters still get the
 * connection's circuit settings (shared/core/credentials/adapterFor.ts), so a bad one is refused
 * when the connection is saved, as for the REST providers, not on every later use (review finding).
 */
describe('webhook-only providers check the circuit settings at save', () => {
  it.each(webhookOnlyProviders.map((definition) => [definition.provider, definition] as const))('%s', (_name, definition) => {
    expect(() => definition.validateConfig({ circuitCoolDownMs: 'soon' })).toThrow(expect.objectContaining({ code: 'validation', message: 'config.circuitCoolDownMs must be a number.' }));
    expect(() => definition.validateConfig({ circuitFailureThreshold: 0 })).toThrow(expect.objectContaining({ code: 'validation' }));
    expect(definition.validateConfig({ circuitFailureThreshold: 3, circuitCoolDownMs: 5000, note: 'kept' })).toEqual({ circuitFailureThreshold: 3, circuitCoolDownMs: 5000, note: 'kept' });
  });
});
