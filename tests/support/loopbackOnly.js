'use strict';
/**
 * Tests reach loopback only. Loaded before every test file (jest `setupFiles`) and, through
 * NODE_OPTIONS, into the Node processes tests start (the local host, the sandbox, fixtures): a TCP
 * connection to anything but 127.0.0.0/8, ::1 or localhost fails at once with ECONNREFUSED, as an
 * unreachable host would, instead of leaving the machine.
 *
 * What it stops in practice: the Application Insights SDK (@azure/monitor-opentelemetry) probes the
 * Azure VM metadata service at 169.254.169.254 on every start, with no setting to turn it off; the
 * SDK swallows the refusal. And any test that would by mistake call a real provider or Azure fails
 * instead of depending on the network. Plain JavaScript so that `node --require` can load it.
 */
const net = require('node:net');

const GUARDED = Symbol.for('syncbridge.tests.loopbackOnly');

function isLoopback(host) {
  if (host === undefined || host === null || host === '') return true; // Node's default is localhost
  const name = String(host).toLowerCase().replace(/^\[|\]$/g, '');
  return name === 'localhost' || name.endsWith('.localhost') || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name) || /^::ffff:127\./.test(name);
}

/** The host a `Socket#connect` call names, or undefined for an IPC path. */
function targetOf(args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0]; // net.connect passes normalized args
  if (first !== null && typeof first === 'object') return first.path ? undefined : { host: first.host, port: first.port }; // Node connects to a pipe when path is truthy (http passes path: null)
  if (typeof first === 'string' && !/^\d+$/.test(first)) return undefined; // an IPC path
  return { host: typeof args[1] === 'string' ? args[1] : undefined, port: first };
}

if (!net.Socket.prototype[GUARDED]) {
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guardedConnect(...args) {
    const target = targetOf(args);
    if (target && !isLoopback(target.host)) {
      const error = new Error(`connect ECONNREFUSED ${target.host}:${target.port} (tests reach loopback only: tests/support/loopbackOnly.js)`);
      error.code = 'ECONNREFUSED';
      error.syscall = 'connect';
      process.nextTick(() => this.destroy(error));
      return this;
    }
    return connect.apply(this, args);
  };
  Object.defineProperty(net.Socket.prototype, GUARDED, { value: true });
  const preload = `--require=${__filename}`;
  if (!(process.env.NODE_OPTIONS ?? '').includes(preload)) {
    process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${preload}`.trim();
  }
}

module.exports = { isLoopback };
