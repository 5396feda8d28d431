import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { allFunctions, appSetup } from '../../functions/all';
import { useServices } from '../../functions/services';
import { startLocalHost, type LocalHostOptions } from '../../local/host';
import { startSandbox, type SandboxOptions } from '../../sandbox/server';
import { createServices, type Services } from '../../shared/composition';
import type { SyncEngineOptions } from '../../shared/core/runs/engineContext';
import { ApiClient } from './apiClient';
import { createLocalPlatform } from '../../shared/platform/local/localPlatform';
import type { SqliteQueue } from '../../shared/platform/local/sqliteQueue';
import type { EntityMergePolicy } from '../../shared/core/merge';
import type { Clock } from '../../shared/ports/clock';
import type { OutboxEntry } from '../../shared/ports/outboxStore';
import type { Platform } from '../../shared/ports/platform';
import { startAzureTestPlatform } from './azureTestPlatform';
import type { IngestionCollector } from './ingestionCollector';


export interface HarnessOptions {
  sandbox?: SandboxOptions;
  engine?: SyncEngineOptions;
  /** Page size of the demo connection. Default 100. */
  pageSize?: number;
  /** More config of the demo connection (e.g. `circuitCoolDownMs`), over the defaults. */
  connectionConfig?: Record<string, unknown>;
  /** Skip the scheduler timer (most tests start runs by hand). Default false: timers are off. */
  timers?: boolean;
  /**
   * `azure`: the Azure implementations of the ports on loopback endpoints (Cosmos DB, Key Vault,
   * Application Insights; tests/support/azureTestPlatform.ts), with the local broker as the queue
   * the local host receives from. Default `local`: everything on SQLite.
   */
  platform?: 'local' | 'azure';
  /**
   * The local platform's clock (stores, queue schedule, provider Retry-After), e.g. a
   * ManualClock to cross a ten-minute Retry-After without waiting. Default: the system clock.
   */
  clock?: Clock;
  /** The local host's HTTP timeouts, e.g. short ones to see a slow sender cut off. Default: the host's own. */
  host?: Pick<LocalHostOptions, 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs'>;
}

/** What tests reach through `h.platform`: any platform, with the local broker the host receives from. */
export type HarnessPlatform = Platform & { queue: SqliteQueue };


/**
 * A real stack on loopback: the sandbox over HTTP, the embedded platform in a temp folder, and the
 * local Functions host running the app's own function definitions.
 */
export { ENTITIES } from './apiClient';

export class Harness extends ApiClient {
  readonly telemetryLines: string[] = [];
  /** With `platform: 'azure'`: the envelopes Application Insights received (a local collector). */
  appInsights?: IngestionCollector;
  /** What the local host logged (invocations, failures): for debugging a failed test. */
  hostLines: string[] = [];

  private constructor(
    readonly dataDir: string,
    readonly platform: HarnessPlatform,
    readonly services: Services,
    sandboxUrl: string,
    hostUrl: string,
    apiKey: string,
    private readonly stopAll: () => Promise<void>,
  ) {
    super(hostUrl, sandboxUrl, apiKey);
  }

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    const dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-e2e-'));
    const sandbox = await startSandbox({ port: 0, recordsPerEntity: 200, ...options.sandbox });
    const sink = new PassThrough();
    const local = createLocalPlatform({ dataDir, telemetrySink: sink, logLevel: 'debug', clock: options.clock });
    const azure = options.platform === 'azure' ? await startAzureTestPlatform(local.queue) : undefined;
    const platform: HarnessPlatform = azure?.platform ?? local;
    const services = createServices(platform, {
      engine: { retry: { initialDelayMs: 20, maxDelayMs: 200, ...options.engine?.retry }, ...options.engine, random: () => 0.5 },
    });
    useServices(services);
    const hostLines: string[] = [];
    const host = await startLocalHost({ functions: allFunctions, setup: appSetup, queue: platform.queue, port: 0, enableTimers: options.timers ?? false, ...options.host, log: (line) => hostLines.push(line) });
    await services.tenants.ensureTenant('t1', 'Tenant one');
    const { key } = await services.tenants.issueApiKey('t1', 'admin', 'test');
    const harness = new Harness(dataDir, platform, services, sandbox.url, host.url, key, async () => {
      await host.stop();
      await sandbox.close();
      await azure?.stop();
      await local.close();
      rmSync(dataDir, { recursive: true, force: true });
    });
    harness.hostLines = hostLines;
    harness.appInsights = azure?.collector;
    sink.on('data', (chunk: Buffer) => harness.telemetryLines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
    await harness.api('POST', '/api/connections', {
      id: 'shop',
      provider: 'sandbox',
      config: { baseUrl: sandbox.url, pageSize: options.pageSize ?? 100, ...options.connectionConfig },
      credentials: { type: 'apiKey', apiKey: sandbox.apiKey },
    }).then((r) => {
      if (r.status !== 201) throw new Error(`creating the test connection failed: ${r.status} ${JSON.stringify(r.body)}`);
    });
    return harness;
  }

  /**
   * A two-way sandbox connection (customers, direction both; `mergePolicy` for customers if given),
   * created through the admin API and fully synced once, so its records have a base.
   */
  async twoWayConnection(id: string, mergePolicy?: EntityMergePolicy): Promise<string> {
    const created = await this.api('POST', '/api/connections', {
      id,
      provider: 'sandbox',
      config: { baseUrl: this.sandboxUrl, ...(mergePolicy ? { mergePolicy: { customers: mergePolicy } } : {}) },
      credentials: { type: 'apiKey', apiKey: 'sandbox-api-key' },
      entities: [{ name: 'customers', direction: 'both' }],
    });
    if (created.status !== 201) throw new Error(`creating connection ${id} answered ${created.status}: ${JSON.stringify(created.body)}`);
    const run = await this.waitForRun(await this.startSync('full', id));
    if (run.state !== 'done') throw new Error(`the first full sync of ${id} ended ${run.state}`);
    return id;
  }

  /** The outbox entry once it left `pending` (done, parked or dead). */
  settledOutbox(outboxId: string): Promise<OutboxEntry> {
    return this.waitFor(`outbox entry ${outboxId} to settle`, async () => {
      const entry = await this.platform.outbox.get(outboxId);
      return entry && entry.state !== 'pending' ? entry : undefined;
    });
  }

  async close(): Promise<void> {
    await this.stopAll();
  }
}
