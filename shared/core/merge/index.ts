export * from './types';
export { CustomMergeRules, assertMergePolicy, policyFor } from './policy';
export { threeWayMerge, differingFields } from './threeWayMerge';
