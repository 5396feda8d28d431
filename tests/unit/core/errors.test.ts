import { ensureError, textOfThrown } from '../../../shared/core/errors';

describe('what was thrown, as text', () => {
  it('keeps strings, writes other values as JSON, and survives values JSON cannot write', () => {
    expect(textOfThrown('boom')).toBe('boom');
    expect(textOfThrown({ code: 42 })).toBe('{"code":42}');
    expect(textOfThrown(undefined)).toBe('undefined');
    expect(textOfThrown(10n)).toBe('10');
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    expect(textOfThrown(cyclic)).toBe('[object Object]');
  });

  it('turns anything thrown into an Error without throwing itself', () => {
    const error = new Error('kept');
    expect(ensureError(error)).toBe(error);
    expect(ensureError({ code: 42 }).message).toBe('{"code":42}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(ensureError(cyclic).message).toBe('[object Object]'); // JSON.stringify alone throws here
  });
});
