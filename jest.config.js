/** Tests run from TypeScript sources through ts-jest; `npm test` type-checks the whole tree with tsc first. */
module.exports = {
  // Jest's node environment, plus Node's fetch dispatcher (see the file).
  testEnvironment: '<rootDir>/tests/support/nodeEnvironment.js',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: { isolatedModules: true, sourceMap: true }, diagnostics: false }] },
  // Tests reach loopback only (no provider, no Azure): see the file.
  setupFiles: ['<rootDir>/tests/support/loopbackOnly.js'],
  testTimeout: 60000,
  maxWorkers: 2,
};
