import { TracingQueueSender } from '../../shared/core/tracingQueueSender';
import { currentTrace, currentTraceparent, formatTraceparent, parseTraceparent, runInTrace, runTraceparent, useTraceScope, type TraceContext } from '../../shared/core/traceContext';
import type { OutgoingMessage, QueueName, QueueSender } from '../../shared/ports/queue';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('W3C trace context', () => {
  it('parses and formats traceparent, and refuses malformed or all-zero ids', () => {
    expect(parseTraceparent(VALID)).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: true });
    expect(formatTraceparent(parseTraceparent(VALID)!)).toBe(VALID);
    for (const bad of ['', 'garbage', VALID.toUpperCase(), `ff${VALID.slice(2)}`, '00-00000000000000000000000000000000-00f067aa0ba902b7-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', 42]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });

  it('draws distinct, well-formed ids across refills of the random pool', () => {
    const ids = Array.from({ length: 2000 }, () => runInTrace(undefined, () => currentTrace()!));
    for (const id of ids) expect(parseTraceparent(formatTraceparent(id))).toEqual(id);
    expect(new Set(ids.map((id) => id.traceId)).size).toBe(ids.length);
    expect(new Set(ids.map((id) => id.spanId)).size).toBe(ids.length);
  });

  it('runs work in a child span of the parent, or in a new trace when the parent is unusable', () => {
    runInTrace(VALID, () => {
      expect(currentTrace()).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', sampled: true });
      expect(currentTrace()!.spanId).not.toBe('00f067aa0ba902b7');
    });
    runInTrace('not-a-traceparent', () => expect(currentTrace()?.traceId).toMatch(/^[0-9a-f]{32}$/));
    expect(currentTrace()).toBeUndefined();
  });

  it('enters the platform\'s trace scope with each new span, inside the SyncBridge trace, until it is unset', () => {
    const entered: TraceContext[] = [];
    useTraceScope((context, work) => {
      entered.push(context);
      expect(currentTrace()).toBe(context); // the platform's scope sees the span it is handed as current
      return work();
    });
    try {
      expect(runInTrace(VALID, () => currentTrace())).toBe(entered[0]);
      expect(entered[0]).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736' });
    } finally {
      useTraceScope(undefined);
    }
    runInTrace(VALID, () => undefined);
    expect(entered).toHaveLength(1);
  });

  it('gives every message of a run the run trace, and keeps the current span as parent inside it', () => {
    const first = parseTraceparent(runTraceparent('run_1'))!;
    expect(parseTraceparent(runTraceparent('run_1'))!.traceId).toBe(first.traceId);
    expect(parseTraceparent(runTraceparent('run_2'))!.traceId).not.toBe(first.traceId);
    runInTrace(runTraceparent('run_1'), () => expect(runTraceparent('run_1')).toBe(currentTraceparent()));
  });

  it('stamps the current trace and the send time on messages that carry none, and leaves a given one alone', async () => {
    const sent: OutgoingMessage[] = [];
    const inner: QueueSender = { send: async (_q: QueueName, m) => void sent.push(...(Array.isArray(m) ? m : [m as OutgoingMessage])) };
    const sender = new TracingQueueSender(inner);
    await runInTrace(VALID, async () => {
      await sender.send('sync-inbound', [{ body: 1, messageId: 'a' }, { body: 2, messageId: 'b', applicationProperties: { traceparent: 'given' } }]);
      expect(parseTraceparent(sent[0].applicationProperties?.traceparent)).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736' });
    });
    expect(sent[1].applicationProperties?.traceparent).toBe('given');
    expect(Number.isNaN(Date.parse(String(sent[0].applicationProperties?.sentAt)))).toBe(false);
  });
});
