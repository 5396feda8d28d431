import { ServiceBusClient } from '@azure/service-bus';
import { isSyncBridgeError } from '../../shared/core/errors';
import { ServiceBusQueueSender } from '../../shared/platform/azure/serviceBusQueueSender';
import { QUEUES } from '../../shared/ports/queue';
import { MAX_MESSAGE_SIZE_BYTES, startAmqpTestBroker, type AmqpTestBroker, type WireMessage } from '../support/amqpTestBroker';
import { queueConformance, type DrainedMessage } from './queue.conformance';

/**
 * The queue port on Service Bus: the real @azure/service-bus SDK over AMQP 1.0 to a test broker on
 * loopback (tests/support/amqpTestBroker.ts), with an emulator connection string.
 */
function drained(m: WireMessage): DrainedMessage {
  return { body: m.body, messageId: m.messageId!, sessionId: m.sessionId, scheduledEnqueueTime: m.scheduledEnqueueTime, applicationProperties: m.applicationProperties };
}

queueConformance('ServiceBusQueueSender', async () => {
  const broker = await startAmqpTestBroker();
  const sender = new ServiceBusQueueSender(new ServiceBusClient(broker.connectionString, { retryOptions: { maxRetries: 1, timeoutInMs: 10_000 } }));
  const handedOut = new Set<WireMessage>();
  return {
    sender,
    async drain(queue) {
      const now = broker.deliverable(queue).filter((m) => !handedOut.has(m));
      for (const m of now) handedOut.add(m);
      return now.map(drained);
    },
    async cleanup() {
      await sender.close();
      await broker.close();
    },
  };
});

describe('ServiceBusQueueSender on the wire', () => {
  let broker: AmqpTestBroker;
  let sender: ServiceBusQueueSender;
  beforeAll(async () => {
    broker = await startAmqpTestBroker();
    sender = new ServiceBusQueueSender(new ServiceBusClient(broker.connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } }));
  });
  afterAll(async () => {
    await sender.close();
    await broker.close();
  });

  it('puts session id, message id, the scheduled time, trace context and a JSON body on the wire, after a CBS token exchange', async () => {
    const at = new Date(Date.now() + 90_000);
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await sender.send(QUEUES.inbound, { body: { runId: 'run_1', page: 2 }, messageId: 'run_1:customers:2', sessionId: 'shop', scheduledEnqueueTime: at, applicationProperties: { traceparent, kind: 'page' } });
    const wire = broker.messages.find((m) => m.messageId === 'run_1:customers:2')!;
    expect(wire).toMatchObject({ queue: 'sync-inbound', sessionId: 'shop', contentType: 'application/json', body: { runId: 'run_1', page: 2 } });
    expect(wire.scheduledEnqueueTime?.getTime()).toBe(at.getTime());
    expect(wire.applicationProperties).toEqual({ traceparent, kind: 'page' });
    expect(broker.cbsRequests).toEqual(expect.arrayContaining([expect.objectContaining({ operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: expect.stringContaining('/sync-inbound') })]));
    expect(broker.cbsRequests[0].token).toMatch(/^SharedAccessSignature sr=.+&sig=.+&se=\d+&skn=RootManageSharedAccessKey$/);
  });

  it('sends a time in the past without the scheduled annotation (deliver now)', async () => {
    await sender.send(QUEUES.outbound, { body: { outboxId: 'out_1' }, messageId: 'out_1', sessionId: 'shop', scheduledEnqueueTime: new Date(Date.now() - 1000) });
    expect(broker.messages.find((m) => m.messageId === 'out_1')?.scheduledEnqueueTime).toBeUndefined();
  });

  it('sends 2,000 messages of ~1 KB (far more than one 256 KB batch holds), none lost, in order', async () => {
    const filler = 'x'.repeat(1000);
    const messages = Array.from({ length: 2000 }, (_, i) => ({ body: { i, filler }, messageId: `bulk-${i}`, sessionId: `s${i % 7}` }));
    const transfersBefore = broker.transfers;
    await sender.send(QUEUES.inbound, messages);
    // ~2 MB in batches of at most the link's 256 KB: eight transfers or more, not one.
    expect(broker.transfers - transfersBefore).toBeGreaterThanOrEqual(Math.ceil((2000 * 1000) / MAX_MESSAGE_SIZE_BYTES));
    const arrived = broker.messages.filter((m) => m.messageId?.startsWith('bulk-'));
    expect(arrived.map((m) => (m.body as { i: number }).i)).toEqual(messages.map((m) => m.body.i));
  });

  it('maps a broker refusal to a SyncBridgeError instead of pretending it was sent', async () => {
    broker.rejectNext('sync-outbound', 1, 'com.microsoft:server-busy', 'The server is busy.');
    const failure = await sender.send(QUEUES.outbound, { body: {}, messageId: 'refused-1', sessionId: 'shop' }).then(() => undefined, (error: unknown) => error);
    expect(isSyncBridgeError(failure, 'transient')).toBe(true);
    expect(String((failure as Error).message)).toMatch(/ServiceBusy|server is busy/i);
    expect(broker.messages.some((m) => m.messageId === 'refused-1')).toBe(false);
  });
});
