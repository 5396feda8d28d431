import type { IncomingMessage } from 'node:http';
import { Harness } from '../support/harness';
import { useScriptedProvider, type ScriptedAnswer } from '../support/scriptedProvider';

/**
 * A connection's pulls and pushes share its provider limits (shared/http/connectionLimits.ts), on
 * the real stack: the local host, its queue and a provider on loopback whose answers each test
 * scripts. A rate limit one side meets holds the other side's calls until it lapses, and the
 * circuit that pull failures open makes a push fail fast as a retry, never a dead letter.
 */
describe('provider limits shared by a connection\'s pulls and pushes (loopback provider → local host)', () => {
  const record = { id: 'a', name: 'A', updated_at: '2026-01-01T00:00:00Z' };
  const list: ScriptedAnswer = { status: 200, body: { data: [record], next_cursor: null } };
  const written: ScriptedAnswer = { status: 200, body: { ...record, name: 'B', updated_at: '2026-01-01T00:00:05Z' } };
  const limited: ScriptedAnswer = { status: 429, body: { error: 'slow down' }, headers: { 'retry-after': '60' } };
  /** A push reads the record (GET /v1/customers/a), then writes it (PATCH). */
  const answers = (over: { pull?: ScriptedAnswer; push?: ScriptedAnswer } = {}) => (req: IncomingMessage): ScriptedAnswer => {
    if (req.method === 'GET' && req.url!.startsWith('/v1/customers?')) return over.pull ?? list;
    if (req.method === 'GET') return { status: 200, body: record };
    return over.push ?? written;
  };
  /** Each request as `METHOD /path` with the time it arrived. */
  const seen: Array<{ call: string; at: number }> = [];
  let route: (req: IncomingMessage) => ScriptedAnswer = () => list;
  const provider = useScriptedProvider((_n, req) => {
    seen.push({ call: `${req.method} ${req.url!.split('?')[0]}`, at: Date.now() });
    return route(req);
  });
  let h: Harness;
  afterEach(async () => h?.close());

  /** A two-way connection on the scripted provider, fully synced once while every answer is fine. */
  async function connection(id: string, config: Record<string, unknown> = {}): Promise<void> {
    route = answers();
    const created = await h.api('POST', '/api/connections', {
      id, provider: 'sandbox', config: { baseUrl: provider.baseUrl, ...config },
      credentials: { type: 'apiKey', apiKey: 'k' }, entities: [{ name: 'customers', direction: 'both' }],
    });
    expect(created.status).toBe(201);
    expect((await h.waitForRun(await h.startSync('full', id))).state).toBe('done');
    seen.length = 0;
  }

  /** A local edit of record `a`, and its outbox entry once its first push attempt has ended. */
  async function pushedEdit(id: string) {
    const edited = await h.api('PATCH', `/api/connections/${id}/records/customers/a`, { name: 'B' });
    expect(edited.status).toBe(202);
    const outboxId: string = edited.body.pendingPush.outboxId;
    return h.waitFor('the push to end its first attempt', async () => {
      const entry = await h.platform.outbox.get(outboxId);
      return entry && (entry.attempts > 0 || entry.state !== 'pending') ? entry : undefined;
    });
  }

  test('a 429 a pull meets holds the pushes of that connection until its Retry-After lapses', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 1 } });
    await connection('held-by-pull');
    route = answers({ pull: limited });
    await h.startSync('full', 'held-by-pull');
    const met = await h.waitFor('the pull to meet the 429', async () => seen.find((s) => s.call === 'GET /v1/customers'));

    const entry = await pushedEdit('held-by-pull');
    expect(seen.map((s) => s.call)).toEqual(['GET /v1/customers']); // the push never reached the provider
    expect(entry).toMatchObject({ state: 'pending', attempts: 1 });
    expect(entry.lastError).toMatch(/held GET \/v1\/customers\/a until .*rate-limited connection held-by-pull \(HTTP 429 on GET \/v1\/customers\)/);
    expect(Date.parse(entry.nextAttemptAt!)).toBeGreaterThanOrEqual(met.at + 59_000);
  });

  test('a 429 a push meets holds the pulls of that connection until its Retry-After lapses', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 1 } });
    await connection('held-by-push');
    route = answers({ push: limited });
    const entry = await pushedEdit('held-by-push');
    expect(entry).toMatchObject({ state: 'pending', attempts: 1 });
    const limitedAt = seen.find((s) => s.call === 'PATCH /v1/customers/a')!.at;

    const runId = await h.startSync('full', 'held-by-push');
    const held = await h.waitFor('the pull step to be held', async () => {
      const run = await h.run(runId);
      return run.state !== 'running' || run.entities[0].lastError ? run : undefined;
    });
    expect(held.state).toBe('running');
    expect(held.entities[0].lastError).toMatch(/held GET \/v1\/customers until .*HTTP 429 on PATCH \/v1\/customers\/a/);
    expect(seen.map((s) => s.call)).toEqual(['GET /v1/customers/a', 'PATCH /v1/customers/a']); // the pull never reached the provider
    expect(Date.parse((await h.platform.runs.get(runId))!.nextStepDueAt!)).toBeGreaterThanOrEqual(limitedAt + 59_000);
  });

  const maintenance: ScriptedAnswer = { status: 503, body: { error: 'down for maintenance' }, headers: { 'retry-after': '600' } };

  test('a 503 with Retry-After a pull meets holds the pushes of that connection: both wait for the same retry time', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 1 } });
    await connection('down-for-pull');
    route = answers({ pull: maintenance });
    const runId = await h.startSync('full', 'down-for-pull');
    const met = await h.waitFor('the pull to meet the 503', async () => seen.find((s) => s.call === 'GET /v1/customers'));
    const rescheduled = await h.waitFor('the pull step to be rescheduled', async () => {
      const run = await h.platform.runs.get(runId);
      return run?.entities[0].lastError ? run : undefined;
    });

    const entry = await pushedEdit('down-for-pull');
    expect(seen.map((s) => s.call)).toEqual(['GET /v1/customers']); // the push never reached the provider
    expect(entry).toMatchObject({ state: 'pending', attempts: 1 }); // a scheduled retry, not a dead letter
    expect(entry.lastError).toMatch(/held GET \/v1\/customers\/a until .*the provider of connection down-for-pull is unavailable until then \(HTTP 503 with Retry-After on GET \/v1\/customers\)/);
    // The pull waits for the Retry-After (it is later than its backoff), and the held push for the
    // same hold: neither comes back before the provider said.
    const pullDue = Date.parse(rescheduled.nextStepDueAt!);
    expect(pullDue).toBeGreaterThanOrEqual(met.at + 599_000);
    expect(pullDue).toBeLessThanOrEqual(met.at + 601_000);
    expect(Date.parse(entry.nextAttemptAt!)).toBe(pullDue);
  });

  test('a 503 with Retry-After a push meets holds the pulls of that connection until then', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 1 } });
    await connection('down-for-push');
    route = answers({ push: maintenance });
    const entry = await pushedEdit('down-for-push');
    expect(entry).toMatchObject({ state: 'pending', attempts: 1 });
    const metAt = seen.find((s) => s.call === 'PATCH /v1/customers/a')!.at;
    expect(Date.parse(entry.nextAttemptAt!)).toBeGreaterThanOrEqual(metAt + 599_000);

    const runId = await h.startSync('full', 'down-for-push');
    const held = await h.waitFor('the pull step to be held', async () => {
      const run = await h.run(runId);
      return run.state !== 'running' || run.entities[0].lastError ? run : undefined;
    });
    expect(held.state).toBe('running');
    expect(held.entities[0].lastError).toMatch(/held GET \/v1\/customers until .*unavailable until then \(HTTP 503 with Retry-After on PATCH \/v1\/customers\/a\)/);
    expect(seen.map((s) => s.call)).toEqual(['GET /v1/customers/a', 'PATCH /v1/customers/a']); // the pull never reached the provider
    expect(Date.parse((await h.platform.runs.get(runId))!.nextStepDueAt!)).toBe(Date.parse(entry.nextAttemptAt!));
  });

  test('after failures in a row by pulls the circuit opens: a push fails fast and is retried after the cool-down, not dead-lettered', async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 1 }, engine: { retry: { maxAttempts: 3 } } });
    await connection('breaker', { circuitFailureThreshold: 3, circuitCoolDownMs: 60_000 });
    route = answers({ pull: { status: 503, body: { error: 'down' } } });
    const run = await h.waitForRun(await h.startSync('full', 'breaker'));
    expect(run.state).toBe('failed'); // three 503s: the run's attempts are spent
    expect(seen.map((s) => s.call)).toEqual(['GET /v1/customers', 'GET /v1/customers', 'GET /v1/customers']);
    const opened = seen[2].at;

    const entry = await pushedEdit('breaker');
    expect(seen).toHaveLength(3); // the push failed fast: nothing reached the provider
    expect(entry).toMatchObject({ state: 'pending', attempts: 1 });
    expect(entry.lastError).toMatch(/did not send GET \/v1\/customers\/a: the circuit to the provider of connection breaker is open after 3 failures in a row \(the last: HTTP 503 on GET \/v1\/customers\)/);
    expect(Date.parse(entry.nextAttemptAt!)).toBeGreaterThanOrEqual(opened + 59_000);
  });
});
