import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startSandbox, type RunningSandbox } from '../../sandbox/server';
import { ApiClient } from '../support/apiClient';
import { customerEvent, postWebhookAs, undrainedJournalKeys } from '../support/journaledWebhooks';
import { assertBuilt, killHard, startNpmStart, type NpmStartProcess } from '../support/npmStart';

const ADMIN_KEY = 'journal-crash-admin-key-0123456789';
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const CONNECTION = 'sandbox-crm';
/** Answered deliveries after which a host is killed, and the senders posting at once. */
const BURST = 1_000;
const CONCURRENCY = 64;

/**
 * `npm start` answers a webhook 202 once it is in the webhook journal (journal first, with the
 * applier thread draining it: local/start.ts). A SIGKILL right after a burst of them loses none:
 * the next start drains what the last one left, each delivery is logged and applied once, and
 * the provider's retries of them are duplicates. The test keeps the drain from committing during
 * the burst (it holds the database's write lock), so the kill always leaves every answered
 * delivery in the journal alone.
 */
describe('npm start: SIGKILL right after a burst of accepted webhooks', () => {
  let sandbox: RunningSandbox;
  let dataDir: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    assertBuilt();
    sandbox = await startSandbox({ port: 0, recordsPerEntity: 2000, rateLimit: { requests: 100_000, windowSeconds: 1 } });
    dataDir = mkdtempSync(join(tmpdir(), 'syncbridge-journal-crash-'));
  });
  afterAll(async () => {
    await Promise.all(children.map(killHard));
    await sandbox?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const env = () => ({ SYNCBRIDGE_PORT: '0', SYNCBRIDGE_DATA_DIR: dataDir, SANDBOX_URL: sandbox.url, SANDBOX_API_KEY: sandbox.apiKey, SYNCBRIDGE_ADMIN_KEY: ADMIN_KEY });
  const journalDir = () => join(dataDir, 'webhook-journal');

  async function start(): Promise<{ host: NpmStartProcess; api: ApiClient }> {
    const host = await startNpmStart(env());
    children.push(host.child);
    return { host, api: new ApiClient(host.url, sandbox.url, ADMIN_KEY) };
  }

  /** The connection's whole delivery log, through the admin API's pages. */
  async function deliveryLog(api: ApiClient): Promise<any[]> {
    const all: any[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: any } = await api.api('GET', `/api/connections/${CONNECTION}/deliveries?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      if (page.status !== 200) throw new Error(`the delivery log answered ${page.status}`);
      all.push(...page.body.deliveries);
      cursor = page.body.nextCursor;
    } while (cursor);
    return all;
  }

  /**
   * Senders keep posting; the host is killed once BURST of them were answered, with the others'
   * requests in flight (those may or may not have been taken: only the 202s are promised, and a
   * 202 read in full counts even when it arrives as the host dies). Returns delivery id → record id
   * of every delivery answered 202.
   */
  async function burstThenKill(host: NpmStartProcess, prefix: string): Promise<Map<string, string>> {
    const answered: Array<{ id: string; status: number; body: any }> = [];
    let next = 0;
    let killed: Promise<void> | undefined;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (!killed) {
          const id = `${prefix}_${next++}`;
          const event = customerEvent(id) as { data: { record: Record<string, unknown> } };
          event.data.record.notes = 'n'.repeat(1_000);
          const answer = await postWebhookAs(host.url, CONNECTION, SECRET, `msg_${id}`, event).catch(() => undefined);
          if (answer === undefined) return;
          answered.push({ id, ...answer });
          if (answered.length === BURST) killed = killHard(host.child);
        }
      }),
    );
    await killed;
    expect(answered.filter((a) => a.status !== 202)).toEqual([]);
    return new Map(answered.map((a) => [a.body.deliveryId as string, a.id]));
  }

  /**
   * After the restart: every accepted delivery logged once and applied, its record stored once,
   * the journal drained to its end, and the provider's retries each a duplicate of the delivery it
   * was accepted as.
   */
  async function expectEachAppliedOnce(api: ApiClient, host: NpmStartProcess, accepted: Map<string, string>): Promise<void> {
    const log = await api.waitFor('every accepted delivery applied', async () => {
      const entries = (await deliveryLog(api)).filter((d) => accepted.has(d.id));
      return entries.length >= accepted.size && entries.every((d) => d.status === 'applied') ? entries : undefined;
    }, 20_000).catch(async (error) => {
      const entries = (await deliveryLog(api)).filter((d) => accepted.has(d.id));
      const byStatus: Record<string, number> = {};
      for (const d of entries) byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
      throw new Error(`${(error as Error).message}: ${entries.length} of ${accepted.size} accepted deliveries logged, by status ${JSON.stringify(byStatus)}`);
    });
    // Once each: every accepted delivery id once, for every accepted provider delivery id once.
    expect(log).toHaveLength(accepted.size);
    expect(new Set(log.map((d) => d.id)).size).toBe(accepted.size);
    const ids = [...accepted.values()];
    expect(new Set(log.map((d) => d.webhookId))).toEqual(new Set(ids.map((id) => `msg_${id}`)));
    const stored = await api.liveRecords('customers', CONNECTION);
    expect(ids.filter((id) => !stored.has(id))).toEqual([]);
    // The drain's checkpoint file follows within its 250 ms once it has caught up (deliveries are
    // applied in the drain's own commit, so it can trail them).
    await api.waitFor('the journal checkpointed to its end', async () => undrainedJournalKeys(journalDir()).length === 0 || undefined, 5_000);

    const retries: Array<{ status: number; body: any }> = [];
    for (let i = 0; i < ids.length; i += CONCURRENCY) {
      retries.push(...(await Promise.all(ids.slice(i, i + CONCURRENCY).map((id) => postWebhookAs(host.url, CONNECTION, SECRET, `msg_${id}`, customerEvent(id))))));
    }
    expect(retries.filter((r) => !(r.status === 200 && r.body?.duplicate === true))).toEqual([]);
    expect(retries.map((r) => r.body.deliveryId)).toEqual([...accepted.keys()]);
  }

  test('every delivery answered 202 before a SIGKILL is logged exactly once and applied after the restart, and re-posting it is a duplicate', async () => {
    let { host, api } = await start();
    // The first full sync finishes first (its sweep would delete the records the webhooks add).
    await api.waitFor('the first full sync', async () => {
      const runs = (await api.api('GET', `/api/connections/${CONNECTION}/syncs`)).body.runs;
      return runs?.length === 1 && runs[0].finishedAt;
    }, 20_000);
    expect((await api.api('PUT', `/api/connections/${CONNECTION}/webhook`, { secrets: [SECRET] })).status).toBe(200);

    // This process holds SQLite's write lock during the burst: the applier thread's drain cannot
    // commit, so every delivery answered 202 is only in the journal when the host is killed (the
    // receiving thread writes nothing to SQLite for an accepted delivery). The burst stays under
    // the journal's backlog bound (2,000), so nothing waits for room.
    const lock = new Database(join(dataDir, 'syncbridge.db'), { timeout: 0 });
    lock.exec('BEGIN IMMEDIATE');
    let accepted: Map<string, string>;
    try {
      accepted = await burstThenKill(host, 'cus_jc');
    } finally {
      lock.exec('ROLLBACK');
      lock.close();
    }

    // None of the 202s reached the delivery log before the kill (read from the file the killed
    // host left): all of it is the restart's work, from the journal.
    const logged = loggedDeliveryIds(join(dataDir, 'syncbridge.db'));
    const journaled = new Set(undrainedJournalKeys(journalDir()));
    console.log(`journalCrash: ${accepted.size} answered 202 before the SIGKILL, ${[...accepted.keys()].filter((id) => logged.has(id)).length} of them in the delivery log, ${journaled.size} deliveries in the journal after its checkpoint`);
    expect([...accepted.keys()].filter((id) => logged.has(id))).toEqual([]);
    expect([...accepted.values()].filter((id) => !journaled.has(`webhook:${CONNECTION}:msg_${id}`))).toEqual([]);

    ({ host, api } = await start());
    await expectEachAppliedOnce(api, host, accepted);
    await killHard(host.child);
  });

  test('a SIGKILL while the drain applies a burst (each batch applied in its own commit, claims last) loses none and applies none twice', async () => {
    // The data folder the test above left (its connection synced, its secret set), a new host.
    let { host, api } = await start();
    const accepted = await burstThenKill(host, 'cus_jd');
    // Part of the burst was applied before the kill, part only journaled: the kill fell mid-drain.
    const logged = loggedDeliveryIds(join(dataDir, 'syncbridge.db'));
    const inLog = [...accepted.keys()].filter((id) => logged.has(id)).length;
    console.log(`journalCrash (draining): ${accepted.size} answered 202 before the SIGKILL, ${inLog} of them in the delivery log, ${undrainedJournalKeys(journalDir()).length} frames after the checkpoint`);
    expect(inLog).toBeGreaterThan(0); // the drain was applying when the kill came

    ({ host, api } = await start());
    await expectEachAppliedOnce(api, host, accepted);
    // Each record written once (version 1): read again after the restart, a delivery applied
    // before the kill finds its own step's write and writes nothing.
    const db = new Database(join(dataDir, 'syncbridge.db'), { readonly: true });
    try {
      const versions = db.prepare("SELECT external_id, version FROM records WHERE external_id LIKE 'cus_jd_%'").all() as Array<{ external_id: string; version: number }>;
      expect(versions.filter((v) => v.version !== 1)).toEqual([]);
      expect(versions.length).toBeGreaterThanOrEqual(accepted.size);
    } finally {
      db.close();
    }
    await killHard(host.child);
  });
});

/** The delivery ids in the delivery log of a host's SQLite file (opened read-only, after the host died). */
function loggedDeliveryIds(path: string): Set<string> {
  const db = new Database(path, { readonly: true });
  try {
    return new Set((db.prepare('SELECT id FROM webhook_deliveries').all() as Array<{ id: string }>).map((row) => row.id));
  } finally {
    db.close();
  }
}
