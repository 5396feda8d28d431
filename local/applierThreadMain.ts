import { PassThrough } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { allFunctions } from '../functions/all';
import type { FunctionDefinition } from '../functions/definition';
import { useServices } from '../functions/services';
import { createServices } from '../shared/composition';
import { webhookIntakeFor } from '../shared/core/webhookIntake';
import { applyExtensions } from '../shared/extensions';
import { setProviderDestinationPolicy, type DestinationPolicy } from '../shared/http/destinationPolicy';
import { createLocalPlatform, startJournalDrain } from '../shared/platform/local/localPlatform';
import type { ApplierThreadData, FromApplierThread, ToApplierThread } from './applierThread';
import { describeError, hostLine, InFlightInvocations } from './invocation';
import { QueueDispatcher, type ServiceBusQueueFunction } from './queueDispatcher';
import { DEFAULT_APPLIER_NICENESS, setThreadNiceness } from './threadPriority';

/**
 * The local host's applier thread (applierThread.ts): its own platform on the same data folder
 * (its own SQLite handle, which is then the one that writes during a webhook load), the
 * queue-triggered functions it was given, and the webhook journal's drain.
 */
/** Closed when the start fails, so that a failed thread holds no database handle. */
let startedPlatform: { close(): Promise<void> } | undefined;

async function main(): Promise<void> {
  const data = workerData as ApplierThreadData;
  const port = parentPort!;
  const post = (message: FromApplierThread) => port.postMessage(message);
  const log = (line: string) => post({ type: 'log', line });
  setProviderDestinationPolicy(data.destinationPolicy as DestinationPolicy);
  // Lowered before the platform starts its WAL checkpointer thread, which inherits it: checkpoints
  // of this thread's writes are background work too (the receiving platform's own checkpointer
  // keeps the process's priority). Ingest bench, three alternating pairs: 4,709–5,309 webhooks/s
  // so, 4,091–4,897 with this checkpointer at the process's priority.
  const priority = setThreadNiceness(data.niceness ?? DEFAULT_APPLIER_NICENESS);

  const platform = createLocalPlatform({
    dataDir: data.dataDir,
    secretKey: data.secretKey,
    logLevel: data.logLevel,
    ...(data.telemetry === 'discard' ? { telemetrySink: new PassThrough().resume() } : {}),
  });
  startedPlatform = platform;
  const services = createServices(platform, { engine: data.engine });
  await applyExtensions(services, data.extensions);
  useServices(services);

  const functions: ServiceBusQueueFunction[] = allFunctions
    .filter((f): f is FunctionDefinition & { kind: 'serviceBusQueue' } => f.kind === 'serviceBusQueue' && data.functions.includes(f.name))
    .map((f) => ({ name: f.name, options: f.options as ServiceBusQueueFunction['options'] }));
  const inFlight = new InFlightInvocations();
  const dispatcher = new QueueDispatcher({
    functions,
    queue: platform.queue,
    maxConcurrentSessions: data.maxConcurrentSessions,
    maxConcurrentCalls: data.maxConcurrentCalls,
    pollIntervalMs: data.queuePollIntervalMs,
    sessionIdleMs: data.sessionIdleMs,
    log,
    logInvocations: data.logInvocations,
    functionLogLevel: data.functionLogLevel,
    inFlight,
  });
  // The drain applies what it drains at once (journalApply.ts); only id-only events, whose fetch
  // must not hold the write lock, go through the dispatcher's inbound worker.
  const { applier } = webhookIntakeFor(services);
  const drain = data.journalDir === undefined
    ? undefined
    : startJournalDrain(platform, data.journalDir, (position) => post({ type: 'drained', position }), (taken, log, batch) => applier.applyTaken(taken, log, batch));
  dispatcher.start();

  port.on('message', (message: ToApplierThread) => {
    if (message.type === 'wake') drain?.wake();
    else if (message.type === 'queue-activity') platform.queue.announce(message.queue);
    else if (message.type === 'stop') void stop(message.timeoutMs);
  });

  const stop = async (timeoutMs: number) => {
    const step = async (what: string, work: () => unknown) => {
      try {
        await work();
      } catch (error) {
        log(hostLine('warning', `Stopping the applier thread: ${what} failed: ${describeError(error)}`));
      }
    };
    // Each step runs whatever the one before it did: the platform is closed in the end regardless.
    await step('the journal drain', () => drain?.stop());
    await step('the receivers', () => dispatcher.stopReceiving());
    await step('waiting for invocations', async () => {
      if (!(await inFlight.drain(timeoutMs))) log(hostLine('warning', `${inFlight.count} invocation(s) of the applier thread still running after ${timeoutMs} ms; their messages will be delivered again.`));
    });
    await step('releasing its locks', () => dispatcher.releaseLocks());
    await step('the last commit', () => platform.queue.whenDurable());
    await step('closing its platform', () => platform.close());
    post({ type: 'stopped' });
    // Nothing else keeps the thread alive: it ends by itself (and writes its --cpu-prof profile).
    port.close();
  };
  post({ type: 'ready', lockOwner: platform.queue.ownerId, priority });
}

main().catch(async (error: unknown) => {
  await startedPlatform?.close().catch(() => undefined);
  parentPort?.postMessage({ type: 'failed', message: describeError(error) } satisfies FromApplierThread);
});
