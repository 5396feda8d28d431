import { app, HttpRequest, InvocationContext } from '@azure/functions';
import { useServices } from '../../../functions/services';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The package's main entry must register every function with the v4 programming model. Outside the
 * Functions host the library skips registration, so the test records the calls it receives.
 */
describe('functions/index.ts registers every function with the Functions host', () => {
  const calls: Array<{ kind: string; name: string; options: any }> = [];
  const setups: unknown[] = [];

  beforeAll(() => {
    jest.spyOn(app, 'setup').mockImplementation((options) => void setups.push(options));
    jest.spyOn(app, 'http').mockImplementation((name: string, options: any) => void calls.push({ kind: 'http', name, options }));
    jest.spyOn(app, 'timer').mockImplementation((name: string, options: any) => void calls.push({ kind: 'timer', name, options }));
    jest.spyOn(app, 'serviceBusQueue').mockImplementation((name: string, options: any) => void calls.push({ kind: 'serviceBusQueue', name, options }));
    require('../../../functions/index');
  });

  test('all nine functions, each with its trigger kind', () => {
    expect(calls.map((c) => `${c.kind}:${c.name}`).sort()).toEqual([
      'http:adminApi', 'http:connect', 'http:health', 'http:webhookReceiver',
      'serviceBusQueue:inboundWorker', 'serviceBusQueue:outboundWorker',
      'timer:outboxRelay', 'timer:scheduler', 'timer:tokenRefresher',
    ]);
    for (const call of calls) expect(typeof call.options.handler).toBe('function');
  });

  test('queue triggers use sessions on the queues the code sends to, through one connection setting', () => {
    const queues = calls.filter((c) => c.kind === 'serviceBusQueue');
    expect(queues.map((q) => [q.name, q.options.queueName, q.options.isSessionsEnabled, q.options.connection])).toEqual([
      ['inboundWorker', 'sync-inbound', true, 'ServiceBusConnection'],
      ['outboundWorker', 'sync-outbound', true, 'ServiceBusConnection'],
    ]);
  });

  test('timers are six-field NCRONTAB; HTTP routes are the documented ones', () => {
    for (const timer of calls.filter((c) => c.kind === 'timer')) expect(timer.options.schedule.split(' ')).toHaveLength(6);
    const routes = Object.fromEntries(calls.filter((c) => c.kind === 'http').map((c) => [c.name, c.options.route]));
    expect(routes).toEqual({ adminApi: '{*path}', connect: 'connect/{*path}', health: 'health', webhookReceiver: 'webhooks/{provider}/{connectionId}' });
  });

  test('HTTP streams are on, so a request body reaches a handler as it arrives (docs/webhook-intake.md)', () => {
    expect(setups).toEqual([{ enableHttpStream: true }]);
  });

  test('a registered HTTP handler that throws answers 500 itself: with streams on, the host would send nothing', async () => {
    useServices(undefined as never); // every handler now throws a TypeError before its own try
    const context = new InvocationContext({ functionName: 'health' });
    const logged = jest.spyOn(context, 'error').mockImplementation(() => undefined);
    const health = calls.find((c) => c.name === 'health')!;
    const response = await health.options.handler(new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/health' }), context);
    expect(response).toMatchObject({ status: 500, jsonBody: { error: { code: 'internal' } } });
    expect(JSON.stringify(response)).not.toMatch(/TypeError|undefined/);
    expect(logged).toHaveBeenCalledWith(expect.stringMatching(/^health failed: /));
  });

  test('the local host answers a throwing app handler exactly as the Azure registration does', async () => {
    useServices(undefined as never);
    const { allFunctions, appSetup } = require('../../../functions/all') as typeof import('../../../functions/all');
    const { startLocalHost } = require('../../../local/host') as typeof import('../../../local/host');
    const context = new InvocationContext({ functionName: 'health' });
    jest.spyOn(context, 'error').mockImplementation(() => undefined);
    const azure = await calls.find((c) => c.name === 'health')!.options.handler(new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/health' }), context);
    const { SqliteQueue } = require('../../../shared/platform/local/sqliteQueue') as typeof import('../../../shared/platform/local/sqliteQueue');
    const { openTempDatabase } = require('../../local/helpers') as typeof import('../../local/helpers');
    const env = openTempDatabase();
    const host = await startLocalHost({ functions: allFunctions.filter((f) => f.kind === 'http'), setup: appSetup, queue: new SqliteQueue(env.db), port: 0, enableTimers: false, log: () => undefined });
    try {
      const local = await fetch(`${host.url}/api/health`);
      expect(local.status).toBe(500);
      expect(await local.json()).toEqual(azure.jsonBody);
    } finally {
      await host.stop();
      env.cleanup();
    }
  });

  test('package.json main is the compiled registration entry, and host.json pins the v4 bundle', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8'));
    expect(pkg.main).toBe('dist/functions/index.js');
    const host = JSON.parse(readFileSync(join(__dirname, '../../../host.json'), 'utf8'));
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
    expect(host.extensions.serviceBus).toMatchObject({ autoCompleteMessages: true, maxConcurrentSessions: 8 });
    expect(host.extensions.serviceBus.maxAutoLockRenewalDuration).toBe('00:10:30');
  });
});
