'use strict';
/**
 * Jest's node environment, plus the one process global that fetch's realm has and a test's realm
 * lacks: the undici global dispatcher Node's fetch registers under Symbol.for (string-named globals
 * are copied into the test's realm, symbol-keyed ones are not). shared/http/destinationGuard.ts
 * builds its dispatcher from that Agent's class, as it does in a real process. Plain JavaScript,
 * loaded by jest before any TypeScript transform.
 */
const { TestEnvironment } = require('jest-environment-node');

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

class SyncBridgeNodeEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    void globalThis.Headers; // loads Node's undici in this (the runner's) realm, which registers the dispatcher
    this.global[GLOBAL_DISPATCHER] = globalThis[GLOBAL_DISPATCHER];
  }
}

module.exports = SyncBridgeNodeEnvironment;
