import { SyncBridgeError } from '../errors';
import { ownField } from '../jsonFields';
import type { ConflictPolicy, CustomMergeRule, EntityMergePolicy } from './types';

const KINDS = new Set(['source-wins', 'target-wins', 'latest-timestamp', 'authority', 'manual', 'custom']);

/**
 * The policy that settles `field`: its override, else the entity's default. Only the override
 * object's own members count: a field named `constructor` or `toString` would otherwise find the
 * inherited function and take it for a policy.
 */
export function policyFor(policy: EntityMergePolicy, field: string): ConflictPolicy {
  return ownField(policy.fields, field) ?? policy.default;
}

/**
 * Custom merge rules are code, not configuration: a connection names a rule, and the rule must
 * be registered here before it is used. Unknown names fail when a policy is checked, so that a
 * typo is a configuration error at save time rather than a surprise during a merge.
 */
export class CustomMergeRules {
  private readonly rules = new Map<string, CustomMergeRule>();

  register(name: string, rule: CustomMergeRule): this {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new SyncBridgeError('configuration', `Custom merge rule name "${name}" must be 1-64 letters, digits, '_', '.' or '-'.`);
    }
    this.rules.set(name, rule);
    return this;
  }

  get(name: string): CustomMergeRule {
    const rule = this.rules.get(name);
    if (!rule) throw new SyncBridgeError('configuration', `No custom merge rule is registered under the name "${name}".`);
    return rule;
  }

  has(name: string): boolean {
    return this.rules.has(name);
  }
}

/** Checks a policy read from a connection's config; throws `validation` naming the bad part. */
export function assertMergePolicy(value: unknown, rules: CustomMergeRules, path = 'mergePolicy'): EntityMergePolicy {
  if (typeof value !== 'object' || value === null) throw new SyncBridgeError('validation', `${path} must be an object.`);
  const policy = value as { default?: unknown; fields?: unknown };
  assertConflictPolicy(policy.default, rules, `${path}.default`);
  if (policy.fields !== undefined) {
    if (typeof policy.fields !== 'object' || policy.fields === null || Array.isArray(policy.fields)) {
      throw new SyncBridgeError('validation', `${path}.fields must be an object of field name to policy.`);
    }
    for (const [field, fieldPolicy] of Object.entries(policy.fields)) {
      assertConflictPolicy(fieldPolicy, rules, `${path}.fields.${field}`);
    }
  }
  return value as EntityMergePolicy;
}

function assertConflictPolicy(value: unknown, rules: CustomMergeRules, path: string): void {
  const policy = value as { kind?: unknown; owner?: unknown; name?: unknown } | null;
  if (typeof policy !== 'object' || policy === null || typeof policy.kind !== 'string' || !KINDS.has(policy.kind)) {
    throw new SyncBridgeError('validation', `${path}.kind must be one of ${[...KINDS].join(', ')}.`);
  }
  if (policy.kind === 'authority' && policy.owner !== 'local' && policy.owner !== 'remote') {
    throw new SyncBridgeError('validation', `${path}.owner must be "local" or "remote" for an authority policy.`);
  }
  if (policy.kind === 'custom') {
    if (typeof policy.name !== 'string' || !rules.has(policy.name)) {
      throw new SyncBridgeError('validation', `${path}.name must name a registered custom merge rule.`);
    }
  }
}
