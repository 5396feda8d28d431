import { ownField, setField } from '../../../shared/core/jsonFields';
import { applyChanges } from '../../../shared/core/outbound/localChanges';

describe('fields named like Object.prototype members', () => {
  it('reads only own members and writes __proto__ as a member', () => {
    const data: Record<string, unknown> = { name: 'n' };
    expect(ownField(data, 'constructor')).toBeUndefined();
    expect(ownField(data, 'toString')).toBeUndefined();
    setField(data, '__proto__', 'p');
    expect(Object.hasOwn(data, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(JSON.stringify(data)).toBe('{"name":"n","__proto__":"p"}');
  });

  it('applyChanges carries a change of __proto__ or constructor onto the provider copy as fields', () => {
    const before = { name: 'n' };
    const after = { name: 'n', ...JSON.parse('{"__proto__": "p", "constructor": "c"}') };
    const { data, changedFields } = applyChanges({ name: 'n', phone: '1' }, before, after);
    expect(changedFields.sort()).toEqual(['__proto__', 'constructor']);
    expect(JSON.parse(JSON.stringify(data))).toEqual(JSON.parse('{"name":"n","phone":"1","__proto__":"p","constructor":"c"}'));
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
  });
});
