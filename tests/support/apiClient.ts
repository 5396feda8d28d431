import { canonicalJson } from '../../shared/core/hash';
import type { RunView } from '../../shared/core/runs/runView';

export const ENTITIES = ['customers', 'products', 'orders', 'inventory', 'payments'] as const;

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** Talks to a running SyncBridge host and sandbox over HTTP, as a user's script would. */
export class ApiClient {
  constructor(
    readonly hostUrl: string,
    readonly sandboxUrl: string,
    readonly apiKey: string,
  ) {}

  /** `extraHeaders`: more request headers, e.g. an Idempotency-Key. */
  async api<T = any>(method: string, path: string, body?: unknown, apiKey: string | null = this.apiKey, extraHeaders: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (apiKey !== null) headers['x-api-key'] = apiKey;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.hostUrl}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  async sandbox<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.sandboxUrl}/_sandbox/${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`sandbox ${method} ${path} answered ${response.status}: ${text}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  async startSync(mode: 'full' | 'incremental', connectionId = 'shop', entities?: string[]): Promise<string> {
    const response = await this.api('POST', `/api/connections/${connectionId}/syncs`, { mode, entities });
    if (response.status !== 202) throw new Error(`starting a ${mode} sync failed: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body.runId;
  }

  async run(runId: string, apiKey = this.apiKey): Promise<RunView> {
    const response = await this.api<RunView>('GET', `/api/syncs/${runId}`, undefined, apiKey);
    if (response.status !== 200) throw new Error(`reading run ${runId} failed: ${response.status}`);
    return response.body;
  }

  /** Polls the run until it has finished (any final state), or fails the test after the timeout. */
  async waitForRun(runId: string, timeoutMs = 30_000, apiKey = this.apiKey): Promise<RunView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = await this.run(runId, apiKey);
      if (run.finishedAt) return run;
      if (Date.now() > deadline) throw new Error(`run ${runId} did not finish in ${timeoutMs} ms: ${JSON.stringify(run)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Every live record of an entity, read through the records API with its pagination. */
  async liveRecords(entity: string, connectionId = 'shop'): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    let cursor: string | null = null;
    do {
      const query: string = `entity=${entity}&limit=250${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page: ApiResponse = await this.api('GET', `/api/connections/${connectionId}/records?${query}`);
      if (page.status !== 200) throw new Error(`records API answered ${page.status}: ${JSON.stringify(page.body)}`);
      for (const record of page.body.records) {
        if (!record.metadata.deleted) out.set(record.externalId, record.data);
      }
      cursor = page.body.nextCursor;
    } while (cursor);
    return out;
  }

  /** Asserts that the store holds exactly the sandbox's live records, field for field. */
  async expectInStep(entities: readonly string[] = ENTITIES, connectionId = 'shop'): Promise<void> {
    const dump = await this.sandbox<Record<string, Array<{ id: string }>>>('GET', 'dump');
    for (const entity of entities) {
      const stored = await this.liveRecords(entity, connectionId);
      const expected = new Map(dump[entity].map((r) => [r.id, r]));
      const missing = [...expected.keys()].filter((id) => !stored.has(id));
      const extra = [...stored.keys()].filter((id) => !expected.has(id));
      const different = [...expected.keys()].filter((id) => stored.has(id) && canonicalJson(stored.get(id)) !== canonicalJson(expected.get(id)));
      expect({ entity, missing: missing.slice(0, 5), extra: extra.slice(0, 5), different: different.slice(0, 5), count: stored.size }).toEqual({
        entity,
        missing: [],
        extra: [],
        different: [],
        count: expected.size,
      });
    }
  }

}
