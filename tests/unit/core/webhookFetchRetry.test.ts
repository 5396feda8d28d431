import { SyncBridgeError } from '../../../shared/core/errors';
import { parseInboundQueueMessage, webhookMessageId, type WebhookInboundMessage } from '../../../shared/core/runs/inboundMessage';
import { retryPolicy } from '../../../shared/core/runs/retryPolicy';
import { planFetchFailure } from '../../../shared/core/webhookIntake/fetchRetry';

describe('webhook fetch retries', () => {
  const policy = retryPolicy({ initialDelayMs: 1000, maxDelayMs: 30_000, maxAttempts: 3, maxRateLimitWaits: 2 });
  const now = new Date('2027-03-01T10:00:00Z');
  const message: WebhookInboundMessage = { kind: 'webhook', connectionId: 'c1', deliveryId: 'dlv_1', replay: 1 };
  const plan = (error: unknown, m: WebhookInboundMessage = message) => planFetchFailure(error, m, policy, now, () => 1);

  test('a 429 with Retry-After waits until then; one without it backs off', () => {
    const retryAt = new Date(now.getTime() + 60_000);
    expect(plan(new SyncBridgeError('rate_limited', 'limited', { retryAt }))).toMatchObject({ kind: 'retry', at: retryAt, message: { ...message, waits: 1 } });
    expect(plan(new SyncBridgeError('rate_limited', 'limited'))).toMatchObject({ kind: 'retry', at: new Date(now.getTime() + 1000) });
    expect(plan(new SyncBridgeError('rate_limited', 'limited'), { ...message, waits: 2 })).toEqual({ kind: 'failed', reason: 'Gave up after 2 rate-limit waits: limited' });
  });

  test('a transient failure backs off exponentially until maxAttempts tries', () => {
    expect(plan(new SyncBridgeError('transient', '503'), { ...message, attempt: 1 })).toMatchObject({ kind: 'retry', at: new Date(now.getTime() + 2000), message: { attempt: 2 } });
    expect(plan(new SyncBridgeError('transient', '503'), { ...message, attempt: 2 })).toEqual({ kind: 'failed', reason: 'Gave up after 3 attempts: 503' });
  });

  test("a transient failure with the provider's Retry-After (a 503 in maintenance) waits for it when it is later than the backoff", () => {
    const retryAt = new Date(now.getTime() + 600_000);
    expect(plan(new SyncBridgeError('transient', '503', { retryAt }))).toMatchObject({ kind: 'retry', at: retryAt, message: { attempt: 1 } });
    const soon = new Date(now.getTime() + 10);
    expect(plan(new SyncBridgeError('transient', '503', { retryAt: soon }))).toMatchObject({ kind: 'retry', at: new Date(now.getTime() + 1000) });
  });

  test('a refusal is final at once, and an error that is not a provider failure is left to the caller', () => {
    expect(plan(new SyncBridgeError('auth_failed', 'no'))).toEqual({ kind: 'failed', reason: 'no' });
    expect(plan(new TypeError('bug'))).toEqual({ kind: 'internal' });
  });

  test('each retry is a new message id, and survives the queue body round trip', () => {
    const retry = { ...message, attempt: 2, waits: 3 };
    expect([webhookMessageId(message), webhookMessageId(retry)]).toEqual(['dlv_1:r1', 'dlv_1:r1:a2:w3']);
    expect(parseInboundQueueMessage(JSON.stringify(retry))).toEqual(retry);
    expect(() => parseInboundQueueMessage({ ...message, attempt: -1 })).toThrow(SyncBridgeError);
  });
});
