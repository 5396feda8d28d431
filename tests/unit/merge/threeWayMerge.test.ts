import {
  CustomMergeRules,
  assertMergePolicy,
  differingFields,
  threeWayMerge,
  type EntityMergePolicy,
  type MergeInput,
} from '../../../shared/core/merge';
import { isSyncBridgeError } from '../../../shared/core/errors';

const T1 = '2026-11-23T10:00:00.000Z';
const T2 = '2026-11-23T10:05:00.000Z';

function input(
  base: Record<string, unknown> | null,
  local: Record<string, unknown>,
  remote: Record<string, unknown>,
  policy: EntityMergePolicy = { default: { kind: 'manual' } },
  times: { local?: string; remote?: string } = {},
): MergeInput {
  return {
    entity: 'contacts',
    base,
    local: { data: local, updatedAt: times.local ?? T1 },
    remote: { data: remote, updatedAt: times.remote ?? T1 },
    policy,
  };
}

const base = { name: 'Ada', email: 'ada@example.com', phone: '1' };

describe('threeWayMerge: one-sided changes', () => {
  it('takes a field changed only locally and one changed only remotely, with no conflict', () => {
    const r = threeWayMerge(input(base, { ...base, name: 'Ada L.' }, { ...base, email: 'ada@new.example' }));
    expect(r.merged).toEqual({ name: 'Ada L.', email: 'ada@new.example', phone: '1' });
    expect(r.localOnly).toEqual(['name']);
    expect(r.remoteOnly).toEqual(['email']);
    expect(r.manualFields).toEqual([]);
    expect(r.resolved).toEqual([]);
    expect(r.pushNeeded).toBe(true);
    expect(r.localChanged).toBe(true);
  });

  it('needs no push when only the remote changed, and no local update when only the local changed', () => {
    const remoteOnly = threeWayMerge(input(base, base, { ...base, phone: '2' }));
    expect(remoteOnly.pushNeeded).toBe(false);
    expect(remoteOnly.localChanged).toBe(true);
    const localOnly = threeWayMerge(input(base, { ...base, phone: '3' }, base));
    expect(localOnly.pushNeeded).toBe(true);
    expect(localOnly.localChanged).toBe(false);
  });

  it('removes a field removed on one side and untouched on the other', () => {
    const { phone: _removed, ...withoutPhone } = base;
    const r = threeWayMerge(input(base, withoutPhone, base));
    expect(r.merged).toEqual(withoutPhone);
    expect(r.localOnly).toEqual(['phone']);
  });

  it('adds a field added on one side', () => {
    const r = threeWayMerge(input(base, base, { ...base, title: 'Countess' }));
    expect(r.merged).toEqual({ ...base, title: 'Countess' });
    expect(r.remoteOnly).toEqual(['title']);
  });

  it('treats nested values by content, not by identity or key order', () => {
    const b = { address: { city: 'London', zip: 'N1' } };
    const r = threeWayMerge(input(b, { address: { zip: 'N1', city: 'London' } }, b));
    expect(r.localOnly).toEqual([]);
    expect(r.pushNeeded).toBe(false);
  });

  it('sees no conflict when both sides made the same change', () => {
    const r = threeWayMerge(input(base, { ...base, name: 'Same' }, { ...base, name: 'Same' }));
    expect(r.manualFields).toEqual([]);
    expect(r.resolved).toEqual([]);
    expect(r.merged.name).toBe('Same');
    expect(r.pushNeeded).toBe(false);
  });

  it('with no base, fields present on both sides with different values are conflicts', () => {
    const r = threeWayMerge(input(null, { name: 'A', x: 1 }, { name: 'B', y: 2 }));
    expect(r.manualFields).toEqual(['name']);
    expect(r.merged).toEqual({ name: 'A', x: 1, y: 2 });
  });
});

describe('threeWayMerge: the same field changed on both sides, under each policy', () => {
  const local = { ...base, name: 'Local' };
  const remote = { ...base, name: 'Remote' };

  it('source-wins takes the remote value', () => {
    const r = threeWayMerge(input(base, local, remote, { default: { kind: 'source-wins' } }));
    expect(r.merged.name).toBe('Remote');
    expect(r.resolved).toEqual([{ field: 'name', policy: 'source-wins', winner: 'remote' }]);
    expect(r.pushNeeded).toBe(false);
    expect(r.localChanged).toBe(true);
  });

  it('target-wins takes the local value', () => {
    const r = threeWayMerge(input(base, local, remote, { default: { kind: 'target-wins' } }));
    expect(r.merged.name).toBe('Local');
    expect(r.resolved[0].winner).toBe('local');
    expect(r.pushNeeded).toBe(true);
  });

  it('latest-timestamp takes the later side, per field clock before the record time', () => {
    const policy: EntityMergePolicy = { default: { kind: 'latest-timestamp' } };
    expect(threeWayMerge(input(base, local, remote, policy, { local: T2, remote: T1 })).merged.name).toBe('Local');
    expect(threeWayMerge(input(base, local, remote, policy, { local: T1, remote: T2 })).merged.name).toBe('Remote');
    const withClock = input(base, local, remote, policy, { local: T1, remote: T2 });
    withClock.local.clock = { name: { timestamp: '2026-11-23T11:00:00.000Z', origin: 'syncbridge' } };
    const r = threeWayMerge(withClock);
    expect(r.merged.name).toBe('Local');
    expect(r.clock.name).toEqual({ timestamp: '2026-11-23T11:00:00.000Z', origin: 'syncbridge' });
  });

  it('fields without a clock entry take the side\'s update time and origin', () => {
    const i = input(base, local, remote, { default: { kind: 'latest-timestamp' } }, { local: T1, remote: T2 });
    i.remote.origin = 'sandbox';
    const r = threeWayMerge(i);
    expect(r.clock.name).toEqual({ timestamp: T2, origin: 'sandbox' });
    expect(r.clock.email).toEqual({ timestamp: T1, origin: 'local' });
  });

  it('latest-timestamp gives a tie to the source', () => {
    const r = threeWayMerge(input(base, local, remote, { default: { kind: 'latest-timestamp' } }, { local: T1, remote: T1 }));
    expect(r.merged.name).toBe('Remote');
  });

  it('authority lets the owning system win', () => {
    expect(threeWayMerge(input(base, local, remote, { default: { kind: 'authority', owner: 'local' } })).merged.name).toBe('Local');
    expect(threeWayMerge(input(base, local, remote, { default: { kind: 'authority', owner: 'remote' } })).merged.name).toBe('Remote');
  });

  it('manual parks the field and keeps the local value in the merge', () => {
    const r = threeWayMerge(input(base, local, remote, { default: { kind: 'manual' } }));
    expect(r.manualFields).toEqual(['name']);
    expect(r.resolved).toEqual([]);
    expect(r.merged.name).toBe('Local');
  });

  it('custom calls the registered rule with base, local and remote values', () => {
    const rules = new CustomMergeRules().register('concat', (c) => ({ value: `${String(c.local)}+${String(c.remote)}` }));
    const seen: unknown[] = [];
    rules.register('spy', (c) => {
      seen.push([c.entity, c.field, c.base, c.local, c.remote]);
      return 'remote';
    });
    const r = threeWayMerge(input(base, local, remote, { default: { kind: 'custom', name: 'concat' } }), rules);
    expect(r.merged.name).toBe('Local+Remote');
    expect(r.resolved).toEqual([{ field: 'name', policy: 'custom', winner: 'custom' }]);
    expect(threeWayMerge(input(base, local, remote, { default: { kind: 'custom', name: 'spy' } }), rules).merged.name).toBe('Remote');
    expect(seen).toEqual([['contacts', 'name', 'Ada', 'Local', 'Remote']]);
  });

  it('a custom rule can defer to a person or remove the field', () => {
    const rules = new CustomMergeRules().register('defer', () => 'manual').register('drop', () => ({ value: undefined }));
    expect(threeWayMerge(input(base, local, remote, { default: { kind: 'custom', name: 'defer' } }), rules).manualFields).toEqual(['name']);
    expect('name' in threeWayMerge(input(base, local, remote, { default: { kind: 'custom', name: 'drop' } }), rules).merged).toBe(false);
  });

  it.each<[string, unknown]>([
    ['a side named the source way', 'source'],
    ['an object without a value', {}],
    ['nothing', undefined],
    ['null', null],
  ])('a custom rule answering %s is a configuration error naming the rule, not a removed field (review finding)', (_, answer) => {
    const rules = new CustomMergeRules().register('sloppy', () => answer as never);
    let caught: unknown;
    try {
      threeWayMerge(input(base, local, remote, { default: { kind: 'custom', name: 'sloppy' } }), rules);
    } catch (error) {
      caught = error;
    }
    expect(isSyncBridgeError(caught, 'configuration')).toBe(true);
    expect((caught as Error).message).toContain('Custom merge rule "sloppy"');
    expect((caught as Error).message).toContain('field "name" of contacts');
  });

  it('an unregistered custom rule is a configuration error, not a silent pick', () => {
    let caught: unknown;
    try {
      threeWayMerge(input(base, local, remote, { default: { kind: 'custom', name: 'missing' } }));
    } catch (error) {
      caught = error;
    }
    expect(isSyncBridgeError(caught, 'configuration')).toBe(true);
    expect((caught as Error).message).toContain('"missing"');
  });

  it('a per-field override beats the entity default', () => {
    const l = { ...base, name: 'L', email: 'l@x' };
    const rm = { ...base, name: 'R', email: 'r@x' };
    const r = threeWayMerge(input(base, l, rm, { default: { kind: 'source-wins' }, fields: { email: { kind: 'target-wins' } } }));
    expect(r.merged).toMatchObject({ name: 'R', email: 'l@x' });
    expect(r.resolved).toEqual([
      { field: 'email', policy: 'target-wins', winner: 'local' },
      { field: 'name', policy: 'source-wins', winner: 'remote' },
    ]);
  });
});

describe('threeWayMerge: fields named after Object.prototype members (review finding)', () => {
  it('settles such a field changed on both sides by its policy, also with per-field overrides of other fields', () => {
    const policy: EntityMergePolicy = { default: { kind: 'source-wins' }, fields: { email: { kind: 'target-wins' } } };
    const r = threeWayMerge(input(base, { ...base, constructor: 'L', toString: 'L' }, { ...base, constructor: 'R', toString: 'R' }, policy));
    expect(r.merged).toMatchObject({ constructor: 'R', toString: 'R' });
    expect(r.resolved).toEqual([
      { field: 'constructor', policy: 'source-wins', winner: 'remote' },
      { field: 'toString', policy: 'source-wins', winner: 'remote' },
    ]);
    const manual = threeWayMerge(input({ ...base, constructor: 'B' }, { ...base, constructor: 'L' }, { ...base, constructor: 'R' }, { default: { kind: 'manual' }, fields: { email: { kind: 'target-wins' } } }));
    expect(manual.manualFields).toEqual(['constructor']);
  });

  it('takes such a field absent on a side for absent, not for the inherited member', () => {
    const withToString = { ...base, toString: 'x' };
    const r = threeWayMerge(input(withToString, withToString, base));
    expect(r.remoteOnly).toEqual(['toString']);
    expect(Object.hasOwn(r.merged, 'toString')).toBe(false);
    expect(r.merged).toEqual(base);
    expect(differingFields(withToString, withToString, withToString)).toEqual([]);
  });

  it('keeps a field named __proto__ as a field', () => {
    const local = { ...base, ...JSON.parse('{"__proto__": "p"}') };
    const r = threeWayMerge(input(base, local, base));
    expect(r.localOnly).toEqual(['__proto__']);
    expect(Object.hasOwn(r.merged, '__proto__')).toBe(true);
    expect(JSON.parse(JSON.stringify(r.merged))).toEqual(JSON.parse(JSON.stringify(local)));
    expect(Object.getPrototypeOf(r.merged)).toBe(Object.prototype);
  });
});

describe('differingFields and assertMergePolicy', () => {
  it('lists every field where base, local and remote do not all agree', () => {
    expect(differingFields(base, { ...base, name: 'L' }, { ...base, phone: '9', extra: true })).toEqual(['extra', 'name', 'phone']);
  });

  it('accepts a valid policy and names the bad part of an invalid one', () => {
    const rules = new CustomMergeRules().register('r1', () => 'local');
    expect(() => assertMergePolicy({ default: { kind: 'custom', name: 'r1' }, fields: { a: { kind: 'manual' } } }, rules)).not.toThrow();
    expect(() => assertMergePolicy({ default: { kind: 'newest' } }, rules)).toThrow(/mergePolicy\.default\.kind/);
    expect(() => assertMergePolicy({ default: { kind: 'authority', owner: 'crm' } }, rules)).toThrow(/owner/);
    expect(() => assertMergePolicy({ default: { kind: 'custom', name: 'r2' } }, rules)).toThrow(/registered/);
    expect(() => assertMergePolicy({ default: { kind: 'manual' }, fields: { a: { kind: 'x' } } }, rules)).toThrow(/fields\.a/);
    expect(() => new CustomMergeRules().register('bad name!', () => 'local')).toThrow(/bad name!/);
  });
});
